"""A deterministic, clinically plausible, wholly synthetic CUP cohort.

No real patient data: names are drawn from short generic lists, MRNs start with
``DEMO``, phone numbers are in the fictional 555-01xx range. The mix follows
cup-clinical.md: about a fifth favourable subtypes (section 4) and the rest
unfavourable CUP, partial workups, ECOG trajectories, some cases decided and some
queued for the next two meetings.

Rows are written with bulk INSERTs (ids assigned here) so that 10,000 cases take
seconds, and each patient and case gets a ``create`` audit event naming the seed.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import func, insert, select, text

from cupboard.db import get_engine, unit_of_work
from cupboard.knowledge.investigations import INVESTIGATIONS
from cupboard.knowledge.markers import SERUM_MARKERS_BY_KEY, marker_key
from cupboard.models import (
    AgendaItem,
    AuditEvent,
    Case,
    Decision,
    EcogObservation,
    IhcResult,
    Investigation,
    MdtMeeting,
    MolecularReport,
    PathologyReport,
    Patient,
    SerumMarkerResult,
    User,
    utcnow,
)
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import installation
from cupboard.services.audit import record_creation
from cupboard.services.cases import initial_workup_statuses
from db.demo_trials import seed_demo_trials

DEMO_PASSWORD = "demo"  # noqa: S105 - demo mode only, shown on the sign-in page
SEED_REASON = installation.SEED_REASON

DEMO_ACCOUNTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("demo-chair", "Dr Demo Chair (MDT chair)", "chair", "oncology"),
    ("demo-oncologist", "Dr Demo Oncologist", "oncologist", "oncology"),
    ("demo-navigator", "Demo Nurse Navigator", "navigator", "nursing"),
    ("demo-pathologist", "Dr Demo Pathologist", "pathologist", "pathology"),
    ("demo-viewer", "Demo Viewer (read only)", "viewer", None),
    ("demo-admin", "Demo Administrator", "admin", None),
)
STAFF: tuple[tuple[str, str, str, str], ...] = (
    ("onc.lind", "Dr A. Lind", "oncologist", "oncology"),
    ("onc.berg", "Dr K. Berg", "oncologist", "oncology"),
    ("onc.holm", "Dr S. Holm", "chair", "oncology"),
    ("nav.ek", "N. Ek (CUP nurse)", "navigator", "nursing"),
    ("nav.sand", "M. Sand (CUP nurse)", "navigator", "nursing"),
)

FIRST_F = ("Anna", "Maria", "Eva", "Karin", "Sara", "Lena", "Emma", "Ingrid", "Helena", "Johanna")
FIRST_M = ("Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Nils", "Olof", "Mikael", "Hans")
LAST = ("Demo", "Testsson", "Exempel", "Prov", "Fiktiv", "Mall", "Sample", "Placeholder")

MEETING_ATTENDEES: list[dict[str, str]] = [
    {"name": "Dr S. Holm", "discipline": "oncology"},
    {"name": "Dr Demo Pathologist", "discipline": "pathology"},
    {"name": "Dr R. Radiolog", "discipline": "radiology"},
    {"name": "Dr P. Palliativ", "discipline": "palliative_care"},
    {"name": "N. Ek (CUP nurse)", "discipline": "nursing"},
]


@dataclass(frozen=True)
class Scenario:
    """A presentation pattern and how a board would typically decide it."""

    key: str
    weight: float
    sex: str | None  # None: either
    ages: tuple[int, int]
    site_options: tuple[tuple[str, ...], ...]
    histology: str
    ihc: dict[str, str]
    serum: dict[str, tuple[float, float]] = field(default_factory=dict)
    bone_pattern: str | None = None
    lesions: tuple[int, int] = (2, 12)
    decision: str = "empiric_platinum_taxane"
    presumed_primary: str | None = None
    target_site: str | None = None
    differentiation: str = "moderate"


# Weights: about 20 % favourable subtypes, 80 % unfavourable [ESMO23].
SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "peritoneal_serous_women",
        2.5,
        "female",
        (48, 78),
        (("peritoneum",),),
        "adenocarcinoma",
        {
            "CK7": "positive",
            "CK20": "negative",
            "PAX8": "positive",
            "WT1": "positive",
            "ER": "positive",
        },
        {"CA-125": (300, 2500)},
        decision="site_specific",
        presumed_primary="ovary",
    ),
    Scenario(
        "axillary_nodes_women",
        2.5,
        "female",
        (38, 72),
        (("axillary_nodes",),),
        "adenocarcinoma",
        {
            "CK7": "positive",
            "CK20": "negative",
            "GATA3": "positive",
            "ER": "positive",
            "Mammaglobin": "positive",
        },
        lesions=(1, 3),
        decision="site_specific",
        presumed_primary="breast",
    ),
    Scenario(
        "cervical_nodes_squamous",
        3.0,
        None,
        (45, 78),
        (("cervical_nodes",),),
        "squamous_cell_carcinoma",
        {"p40": "positive", "p63": "positive", "CK5/6": "positive", "p16": "positive"},
        lesions=(1, 3),
        decision="site_specific",
        presumed_primary="head_and_neck",
    ),
    Scenario(
        "inguinal_nodes_squamous",
        0.8,
        None,
        (50, 82),
        (("inguinal_nodes",),),
        "squamous_cell_carcinoma",
        {"p40": "positive", "CK5/6": "positive"},
        lesions=(1, 2),
        decision="local_therapy",
        target_site="inguinal nodes",
    ),
    Scenario(
        "bone_blastic_psa_men",
        2.0,
        "male",
        (60, 88),
        (("bone",),),
        "adenocarcinoma",
        {"CK7": "negative", "CK20": "negative", "PSA": "positive", "NKX3.1": "positive"},
        {"PSA": (60, 900)},
        bone_pattern="blastic",
        decision="site_specific",
        presumed_primary="prostate",
    ),
    Scenario(
        "neuroendocrine",
        2.0,
        None,
        (40, 78),
        (("liver",), ("liver", "bone")),
        "neuroendocrine_carcinoma",
        {"Chromogranin A": "positive", "Synaptophysin": "positive", "INSM1": "positive"},
        decision="site_specific",
        presumed_primary="neuroendocrine",
        differentiation="poor",
    ),
    Scenario(
        "midline_germ_cell_men",
        0.7,
        "male",
        (19, 42),
        (("mediastinal_nodes",), ("retroperitoneal_nodes",)),
        "poorly_differentiated_carcinoma",
        {"SALL4": "positive", "OCT3/4": "positive", "PLAP": "positive"},
        {"AFP": (150, 3000), "beta-hCG": (200, 8000)},
        decision="site_specific",
        presumed_primary="germ_cell",
        differentiation="poor",
    ),
    Scenario(
        "colorectal_profile",
        2.5,
        None,
        (45, 82),
        (("liver",), ("liver", "peritoneum")),
        "adenocarcinoma",
        {"CK7": "negative", "CK20": "positive", "CDX2": "positive", "SATB2": "positive"},
        {"CEA": (20, 600)},
        decision="site_specific",
        presumed_primary="colorectal",
    ),
    Scenario(
        "single_metastasis",
        2.0,
        None,
        (45, 80),
        (("brain",), ("adrenal",), ("lung",)),
        "adenocarcinoma",
        {"CK7": "positive", "CK20": "negative", "TTF-1": "negative"},
        lesions=(1, 1),
        decision="local_therapy",
        target_site="solitary metastasis",
    ),
    Scenario(
        "renal_like",
        1.0,
        None,
        (50, 82),
        (("lung", "bone"),),
        "adenocarcinoma",
        {
            "CK7": "negative",
            "CK20": "negative",
            "PAX8": "positive",
            "CD10": "positive",
            "RCC": "positive",
        },
        bone_pattern="lytic",
        decision="site_specific",
        presumed_primary="kidney",
    ),
    # Unfavourable CUP, about 80 % of cases.
    Scenario(
        "unfavourable_adeno_upper",
        30.0,
        None,
        (45, 85),
        (
            ("liver", "bone"),
            ("liver", "lung", "bone"),
            ("liver", "peritoneum"),
            ("lung", "pleura", "bone"),
            ("liver", "adrenal", "lung"),
        ),
        "adenocarcinoma",
        {
            "CK7": "positive",
            "CK20": "negative",
            "TTF-1": "negative",
            "GATA3": "negative",
            "PAX8": "negative",
            "CDX2": "negative",
        },
        {"CEA": (5, 200), "CA19-9": (30, 900)},
    ),
    Scenario(
        "unfavourable_pancreatobiliary",
        15.0,
        None,
        (50, 85),
        (("liver",), ("liver", "peritoneum"), ("liver", "lung")),
        "adenocarcinoma",
        {"CK7": "positive", "CK20": "positive", "CDX2": "negative", "SATB2": "negative"},
        {"CA19-9": (100, 5000)},
    ),
    Scenario(
        "unfavourable_poorly_differentiated",
        25.0,
        None,
        (40, 88),
        (
            ("liver", "bone", "lung"),
            ("mediastinal_nodes", "bone"),
            ("liver", "brain"),
            ("bone",),
            ("lung", "adrenal"),
        ),
        "poorly_differentiated_carcinoma",
        {"CK7": "positive", "CK20": "negative", "CD45": "negative", "SOX10": "negative"},
        differentiation="poor",
    ),
    Scenario(
        "unfavourable_squamous",
        8.0,
        None,
        (50, 85),
        (("lung", "bone"), ("liver", "bone"), ("mediastinal_nodes", "lung")),
        "squamous_cell_carcinoma",
        {"p40": "positive", "CK5/6": "positive", "p16": "negative"},
    ),
)

# Molecular findings that make targeted therapy or immunotherapy worth discussing [TA].
ACTIONABLE: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("MSI-H", {"msi_status": "MSI-H", "mmr_status": "deficient", "tmb": 38.0}, "immunotherapy"),
    ("TMB-high", {"msi_status": "MSS", "mmr_status": "proficient", "tmb": 14.5}, "immunotherapy"),
    ("BRAF V600E", {"alterations": ["BRAF V600E"]}, "targeted_therapy"),
    ("NTRK fusion", {"alterations": ["ETV6-NTRK3 fusion"]}, "targeted_therapy"),
    ("RET fusion", {"alterations": ["KIF5B-RET fusion"]}, "targeted_therapy"),
)
COMMON_ALTERATIONS = ("KRAS G12D", "TP53 R273H", "CDKN2A loss", "KRAS G12V", "PIK3CA E545K")


@dataclass
class _Rows:
    patients: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    investigations: list[dict[str, Any]] = field(default_factory=list)
    pathology: list[dict[str, Any]] = field(default_factory=list)
    ihc: list[dict[str, Any]] = field(default_factory=list)
    molecular: list[dict[str, Any]] = field(default_factory=list)
    serum: list[dict[str, Any]] = field(default_factory=list)
    ecog: list[dict[str, Any]] = field(default_factory=list)
    meetings: list[dict[str, Any]] = field(default_factory=list)
    agenda: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


def _next_weekday(day: dt.date, weekday: int) -> dt.date:
    """The first ``weekday`` (0 = Monday) strictly after ``day``, or ``day`` itself."""
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def upcoming_meeting_dates(today: dt.date) -> tuple[dt.date, dt.date]:
    """The board meets on Tuesdays: the next one (today if Tuesday) and the week after."""
    first = _next_weekday(today, 1)
    return first, first + dt.timedelta(days=7)


def _max_id(session: Any, model: Any) -> int:
    return session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0


@functools.cache
def demo_password_hash() -> str:
    """The argon2 hash of the published demo password, made once per process: every
    demo account shares that password anyway, and hashing is deliberately slow.
    Signing in still verifies the password against it."""
    return PasswordHasher().hash(DEMO_PASSWORD)


def _ensure_staff(url: str) -> dict[str, int]:
    """The demo accounts and the synthetic staff, all marked demo (one transaction)."""
    with unit_of_work(url) as session:
        existing = {u.username: u.id for u in session.scalars(select(User))}
        accounts = [(*a, True) for a in DEMO_ACCOUNTS] + [(*a, False) for a in STAFF]
        for username, display_name, role, discipline, signs_in in accounts:
            if username in existing:
                continue
            user = User(
                username=username,
                display_name=display_name,
                role=role,
                discipline=discipline,
                password_hash=demo_password_hash() if signs_in else None,
                email=None if signs_in else f"{username}@example.invalid",
                is_demo=True,
            )
            session.add(user)
            record_creation(session, SYSTEM_ACTOR, user, reason=SEED_REASON)
            existing[username] = user.id
    return existing


def _audit(
    rows: _Rows, entity: str, entity_id: int, case_id: int | None, when: dt.datetime
) -> None:
    rows.audit.append(
        {
            "actor_id": None,
            "actor_username": SYSTEM_ACTOR.username,
            "action": "create",
            "entity": entity,
            "entity_id": entity_id,
            "entity_version": 1,
            "case_id": case_id,
            "field": None,
            "before": None,
            "after": None,
            "reason": SEED_REASON,
            "occurred_at": when,
        }
    )


def _ecog_series(
    rng: random.Random, start: dt.date, end: dt.date, scenario: Scenario
) -> list[tuple[dt.date, int]]:
    """An ECOG trajectory: most start 0-2; unfavourable disease tends to worsen [CULINE]."""
    baseline = rng.choices((0, 1, 2, 3, 4), weights=(25, 40, 20, 11, 4))[0]
    count = max(1, min(5, (end - start).days // 21 + 1))
    drift = 0.35 if scenario.key.startswith("unfavourable") else 0.1
    series, score, day = [], baseline, start
    for _ in range(count):
        series.append((day, score))
        if rng.random() < drift and score < 4:
            score += 1
        elif rng.random() < 0.1 and score > 0:
            score -= 1
        day = min(end, day + dt.timedelta(days=rng.randint(14, 35)))
    return series


# What the services record when a tissue report is entered on screen
# (cupboard/services/workup_follows.py): the biopsy done, its histopathology reported.
_TISSUE_WORKUP = {"biopsy": "done", "histopathology_ihc": "reported"}


def _tissue_workup_done(investigations: list[dict[str, Any]], reported_on: dt.date) -> None:
    """A case with a pathology report has had its biopsy: the demo's workup says so too,
    so that no screen lists as missing what the findings show was done."""
    for row in investigations:
        status = _TISSUE_WORKUP.get(row["code"])
        if status is None or row["status"] in ("done", "reported"):
            continue
        requested = min(row["requested_on"] or reported_on, reported_on)
        row.update(
            status=status,
            requested_on=requested,
            booked_for=requested,
            done_on=requested,
            reported_on=reported_on if status == "reported" else None,
        )


def seed_demo_cohort(
    url: str, cases: int = 40, seed: int = 20261121, today: dt.date | None = None
) -> str:
    """Add ``cases`` synthetic cases (deterministic for a seed); returns a one-line report."""
    clock_start = time.perf_counter()
    today = today or dt.date.today()
    rng = random.Random(seed)
    staff = _ensure_staff(url)
    oncologists = [staff[u] for u, _, r, _ in STAFF if r in ("oncologist", "chair")]
    navigators = [staff[u] for u, _, r, _ in STAFF if r == "navigator"]
    chair = staff["onc.holm"]
    now = utcnow()
    rows = _Rows()

    with unit_of_work(url) as session:
        ids = {
            name: _max_id(session, model)
            for name, model in (
                ("patient", Patient),
                ("case", Case),
                ("investigation", Investigation),
                ("pathology", PathologyReport),
                ("ihc", IhcResult),
                ("molecular", MolecularReport),
                ("serum", SerumMarkerResult),
                ("ecog", EcogObservation),
                ("meeting", MdtMeeting),
                ("agenda", AgendaItem),
                ("decision", Decision),
            )
        }
        mrn_offset = session.scalar(select(func.count(Patient.id))) or 0

    def next_id(name: str) -> int:
        ids[name] += 1
        return ids[name]

    # Ten years of weekly Tuesday meetings at most, scaled to the cohort size.
    span_days = min(3650, max(90, cases * 3))
    next_meeting, following_meeting = upcoming_meeting_dates(today)
    meeting_ids: dict[dt.date, int] = {}
    agenda_positions: dict[int, int] = {}

    def meeting_on(day: dt.date) -> int:
        if day not in meeting_ids:
            meeting_id = next_id("meeting")
            meeting_ids[day] = meeting_id
            rows.meetings.append(
                {
                    "id": meeting_id,
                    "meeting_date": day,
                    "title": "CUP MDT",
                    "chair_id": chair,
                    "attendees": MEETING_ATTENDEES,
                    "version": 1,
                }
            )
            _audit(rows, "mdt_meeting", meeting_id, None, now)
        return meeting_ids[day]

    meeting_on(next_meeting)
    meeting_on(following_meeting)
    weights = [s.weight for s in SCENARIOS]

    for n in range(cases):
        scenario = rng.choices(SCENARIOS, weights=weights)[0]
        sex = scenario.sex or rng.choice(("female", "male"))
        age = rng.randint(*scenario.ages)
        # Recent cases are over-represented so the board always has live work.
        offset = int(span_days * rng.random() ** 1.6) if n >= 12 else rng.randint(14, 28)
        pathway_start = today - dt.timedelta(days=offset)
        dob = pathway_start - dt.timedelta(days=age * 365 + rng.randint(0, 364))
        patient_id, case_id = next_id("patient"), next_id("case")
        first = rng.choice(FIRST_F if sex == "female" else FIRST_M)
        rows.patients.append(
            {
                "id": patient_id,
                "pseudonym": f"CUP-{patient_id:05d}",
                "mrn": f"DEMO{mrn_offset + n + 1:07d}",
                "name": f"{first} {rng.choice(LAST)}",
                "sex": sex,
                "date_of_birth": dob,
                "phone": f"+1 555 01{rng.randint(0, 99):02d}",
                "referrer_name": rng.choice(("Dr GP Demo", "Dr Primary Care", "Dr Surgeon")),
                "referrer_phone": f"+1 555 01{rng.randint(0, 99):02d}",
                "prior_malignancy": rng.choice((None, None, None, "Basal cell carcinoma 2015")),
                "created_at": now,
                "version": 1,
            }
        )
        _audit(rows, "patient", patient_id, case_id, now)
        sites = list(rng.choice(scenario.site_options))
        lesions = rng.randint(*scenario.lesions)
        # Progress along the pathway depends on how long ago it started.
        if offset <= 6:
            stage = "early"
        elif offset <= 20:
            stage = "workup"
        elif offset <= 30:
            stage = rng.choice(("ready", "queued", "queued"))
        else:
            stage = "decided"
        if n < 12:  # the first cases fill the next two meetings
            stage = "queued" if n < 10 else "ready"
        status = {
            "early": "referred",
            "workup": "workup_in_progress",
            "ready": "ready_for_mdt",
            "queued": "ready_for_mdt",
            "decided": rng.choice(
                ("decision_recorded", "in_treatment", "in_treatment", "closed", "closed")
            ),
        }[stage]
        case_row: dict[str, Any] = {
            "id": case_id,
            "patient_id": patient_id,
            "status": status,
            "diagnostic_stage": "muo" if stage in ("early", "workup") else "provisional_cup",
            "pathway_start": pathway_start,
            "referral_date": pathway_start - dt.timedelta(days=rng.randint(0, 3)),
            "oncologist_id": rng.choice(oncologists),
            "navigator_id": rng.choice(navigators),
            "presentation": f"{', '.join(s.replace('_', ' ') for s in sites)}; "
            f"{lesions} lesion{'s' if lesions != 1 else ''} on imaging",
            "metastatic_sites": sites,
            "lesion_count": lesions,
            "bone_pattern": scenario.bone_pattern if "bone" in sites else None,
            "primary_found_site": None,
            "primary_found_by": None,
            "primary_found_on": None,
            "closing_reason": None,
            "closed_on": None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        rows.cases.append(case_row)
        _audit(rows, "case", case_id, case_id, now)

        # Workup: everything required; progress by stage.
        done_share = {"early": 0.15, "workup": 0.55, "ready": 0.9, "queued": 0.85, "decided": 0.97}[
            stage
        ]
        statuses = initial_workup_statuses(sex, sites, lesions)
        for item in INVESTIGATIONS:
            status_now = statuses[item.code]
            row: dict[str, Any] = {
                "id": next_id("investigation"),
                "case_id": case_id,
                "code": item.code,
                "status": status_now,
                "requested_on": None,
                "booked_for": None,
                "done_on": None,
                "reported_on": None,
                "result_text": None,
                "responsible": None,
                "reviewed_on": None,
                "reviewed_by_id": None,
                "updated_at": now,
                "version": 1,
            }
            if status_now == "to_request":
                roll = rng.random()
                requested = pathway_start + dt.timedelta(days=rng.randint(0, 3))
                if roll < done_share and requested <= today:
                    done = min(today, requested + dt.timedelta(days=rng.randint(2, 12)))
                    reported = min(today, done + dt.timedelta(days=rng.randint(0, 4)))
                    row.update(
                        status="reported",
                        requested_on=requested,
                        booked_for=done,
                        done_on=done,
                        reported_on=reported,
                        result_text="See report; no primary identified.",
                        reviewed_on=reported if stage == "decided" or rng.random() < 0.8 else None,
                    )
                elif roll < done_share + 0.25 and requested <= today:
                    booked = requested + dt.timedelta(days=rng.randint(3, 20))
                    row.update(status="booked", requested_on=requested, booked_for=booked)
                elif roll < done_share + 0.35 and requested <= today:
                    row.update(status="requested", requested_on=requested)
            rows.investigations.append(row)

        # Pathology exists once the biopsy has been reported.
        reported_on = pathway_start + dt.timedelta(days=min(offset, rng.randint(6, 14)))
        if stage != "early":
            _tissue_workup_done(rows.investigations[-len(INVESTIGATIONS) :], reported_on)
            report_id = next_id("pathology")
            rows.pathology.append(
                {
                    "id": report_id,
                    "case_id": case_id,
                    "histology": scenario.histology,
                    "differentiation": scenario.differentiation,
                    "biopsy_site": sites[0],
                    "specimen_type": "core",
                    "reported_on": reported_on,
                    "pathologist": "Dr Demo Pathologist",
                    "comment": None,
                    "version": 1,
                }
            )
            for marker, result in scenario.ihc.items():
                rows.ihc.append(
                    {
                        "id": next_id("ihc"),
                        "case_id": case_id,
                        "pathology_report_id": report_id,
                        "marker": marker,
                        "result": result,
                        "percentage": float(rng.choice((40, 60, 80, 90)))
                        if result == "positive"
                        else None,
                        "reported_on": reported_on,
                        "version": 1,
                    }
                )
        for marker, (low, high) in scenario.serum.items():
            if stage == "early" and rng.random() < 0.5:
                continue
            rows.serum.append(
                {
                    "id": next_id("serum"),
                    "case_id": case_id,
                    "marker": marker,
                    "value": round(rng.uniform(low, high), 1),
                    "unit": SERUM_MARKERS_BY_KEY[marker_key(marker)].default_unit,
                    "upper_limit_normal": None,
                    "measured_on": min(today, pathway_start + dt.timedelta(days=rng.randint(0, 4))),
                    "version": 1,
                }
            )
        ldh_raised = rng.random() < 0.45
        rows.serum.append(
            {
                "id": next_id("serum"),
                "case_id": case_id,
                "marker": "LDH",
                "value": float(rng.randint(260, 900) if ldh_raised else rng.randint(120, 240)),
                "unit": "U/L",
                "upper_limit_normal": 250.0,
                "measured_on": min(today, pathway_start + dt.timedelta(days=rng.randint(0, 3))),
                "version": 1,
            }
        )

        decision_code = scenario.decision
        molecular_done = stage in ("ready", "queued", "decided") and rng.random() < 0.6
        actionable = None
        if molecular_done:
            values: dict[str, Any] = {
                "msi_status": "MSS",
                "mmr_status": "proficient",
                "tmb": round(rng.uniform(1, 8), 1),
                "pdl1_tps": float(rng.choice((0, 1, 5, 30, 60))),
                "pdl1_cps": None,
                "alterations": [rng.choice(COMMON_ALTERATIONS)],
                "tissue_of_origin_site": None,
                "tissue_of_origin_confidence": None,
            }
            if scenario.key.startswith("unfavourable") and rng.random() < 0.25:
                actionable = rng.choice(ACTIONABLE)
                values.update(actionable[1])
            if scenario.presumed_primary and rng.random() < 0.4:
                values.update(
                    tissue_of_origin_site=scenario.presumed_primary,
                    tissue_of_origin_confidence=round(rng.uniform(0.55, 0.95), 2),
                )
            rows.molecular.append(
                {
                    "id": next_id("molecular"),
                    "case_id": case_id,
                    "reported_on": min(today, reported_on + dt.timedelta(days=rng.randint(10, 20))),
                    "lab": "Demo Molecular Lab",
                    "version": 1,
                    **values,
                }
            )

        series_end = (
            today if stage != "decided" else min(today, pathway_start + dt.timedelta(days=offset))
        )
        series = _ecog_series(rng, pathway_start, series_end, scenario)
        for day, score in series:
            rows.ecog.append(
                {
                    "id": next_id("ecog"),
                    "case_id": case_id,
                    "score": score,
                    "observed_on": day,
                    "recorded_by_id": case_row["oncologist_id"],
                    "weight_kg": round(rng.uniform(55, 95), 1) if rng.random() < 0.5 else None,
                    "note": None,
                    "version": 1,
                }
            )

        if stage == "queued":
            meeting_id = meeting_on(next_meeting if n % 3 != 2 else following_meeting)
            position = agenda_positions.get(meeting_id, 0) + 1
            agenda_positions[meeting_id] = position
            rows.agenda.append(
                {
                    "id": next_id("agenda"),
                    "meeting_id": meeting_id,
                    "case_id": case_id,
                    "position": position,
                    "question": rng.choice(
                        (
                            "Primary site? Further workup or treatment?",
                            "Favourable subtype? Site-specific therapy?",
                            "Is NGS needed before first-line treatment?",
                            "Fit for systemic therapy?",
                        )
                    ),
                    "presented_by": "N. Ek (CUP nurse)",
                    "discussion_started_at": None,
                    "discussion_ended_at": None,
                    "version": 1,
                }
            )
        elif stage == "decided":
            mdt_day = _next_weekday(pathway_start + dt.timedelta(days=rng.randint(16, 30)), 1)
            mdt_day = min(mdt_day, today - dt.timedelta(days=1))
            meeting_id = meeting_on(mdt_day)
            position = agenda_positions.get(meeting_id, 0) + 1
            agenda_positions[meeting_id] = position
            minutes = rng.randint(4, 15)
            started_at = dt.datetime.combine(mdt_day, dt.time(13, 0), dt.UTC) + dt.timedelta(
                minutes=8 * (position - 1)
            )
            rows.agenda.append(
                {
                    "id": next_id("agenda"),
                    "meeting_id": meeting_id,
                    "case_id": case_id,
                    "position": position,
                    "question": "Primary site? Treatment recommendation?",
                    "presented_by": "N. Ek (CUP nurse)",
                    "discussion_started_at": started_at,
                    "discussion_ended_at": started_at + dt.timedelta(minutes=minutes),
                    "version": 1,
                }
            )
            ecog_now = series[-1][1]
            if actionable is not None:
                decision_code = actionable[2]
            if scenario.key.startswith("unfavourable") and ecog_now >= 3:
                decision_code = "best_supportive_care"  # [ECOG], [ESMO23]
            elif scenario.key.startswith("unfavourable") and rng.random() < 0.1:
                decision_code = "clinical_trial"
            detail: dict[str, Any] = {
                "presumed_primary": None,
                "regimen": None,
                "biomarker": None,
                "alteration": None,
                "target_site": None,
                "local_modality": None,
                "workup_requested": None,
            }
            if decision_code == "site_specific":
                detail["presumed_primary"] = scenario.presumed_primary
            elif decision_code == "empiric_platinum_taxane":
                detail["regimen"] = "carboplatin + paclitaxel"
            elif decision_code == "immunotherapy":
                detail["biomarker"] = actionable[0] if actionable else "MSI-H"
            elif decision_code == "targeted_therapy":
                detail["alteration"] = (
                    actionable[1]["alterations"][0] if actionable else "BRAF V600E"
                )
            elif decision_code == "local_therapy":
                detail["target_site"] = scenario.target_site or sites[0].replace("_", " ")
                detail["local_modality"] = rng.choice(("surgery", "radiotherapy", "sbrt"))
            started = mdt_day + dt.timedelta(days=rng.randint(5, 25))
            rows.decisions.append(
                {
                    "id": next_id("decision"),
                    "case_id": case_id,
                    "meeting_id": meeting_id,
                    "code": decision_code,
                    **detail,
                    "plan": "Start treatment; review after three cycles.",
                    "rationale": f"Presentation consistent with {scenario.key.replace('_', ' ')}; "
                    f"ECOG {ecog_now}.",
                    "ecog_at_decision": ecog_now,
                    "attendees": MEETING_ATTENDEES,
                    "decided_on": mdt_day,
                    "decided_by_id": chair,
                    "chair_id": chair,
                    "amends_decision_id": None,
                    "superseded": False,
                    "treatment_started_on": started
                    if decision_code not in ("best_supportive_care", "further_workup")
                    and started <= today
                    else None,
                    "follow_up_due": mdt_day + dt.timedelta(days=42),
                    "follow_up_done_on": mdt_day + dt.timedelta(days=42)
                    if mdt_day + dt.timedelta(days=42) < today and rng.random() < 0.8
                    else None,
                    "created_at": now,
                    "version": 1,
                }
            )
            if status == "closed":
                found = decision_code == "site_specific" and rng.random() < 0.5
                case_row.update(
                    closing_reason="primary_found"
                    if found
                    else rng.choice(("cup_confirmed_treated", "deceased", "transferred")),
                    closed_on=min(today, mdt_day + dt.timedelta(days=rng.randint(30, 200))),
                )
                if found:
                    case_row.update(
                        primary_found_site=scenario.presumed_primary,
                        primary_found_by=rng.choice(
                            ("ct_cap", "histopathology_ihc", "mammography", "colonoscopy")
                        ),
                        primary_found_on=case_row["closed_on"],
                        diagnostic_stage="primary_found",
                    )
                else:
                    case_row["diagnostic_stage"] = "confirmed_cup"
            else:
                case_row["diagnostic_stage"] = "confirmed_cup"

    _write(url, rows)
    # The trial register the board matches against (issue 19), beside the cohort.
    seed_demo_trials(url)
    seconds = time.perf_counter() - clock_start
    return (
        f"seeded {cases} synthetic cases ({len(rows.investigations)} investigations, "
        f"{len(rows.ecog)} ECOG observations, {len(rows.decisions)} decisions, "
        f"{len(rows.meetings)} meetings) in {seconds:.1f} s"
    )


def _chunks(items: list[dict[str, Any]], size: int = 5000) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write(url: str, rows: _Rows) -> None:
    engine = get_engine(url)
    plan = (
        (Patient, rows.patients),
        (MdtMeeting, rows.meetings),
        (Case, rows.cases),
        (Investigation, rows.investigations),
        (PathologyReport, rows.pathology),
        (IhcResult, rows.ihc),
        (MolecularReport, rows.molecular),
        (SerumMarkerResult, rows.serum),
        (EcogObservation, rows.ecog),
        (AgendaItem, rows.agenda),
        (Decision, rows.decisions),
        (AuditEvent, rows.audit),
    )
    with engine.begin() as connection:
        for model, items in plan:
            for chunk in _chunks(items):
                connection.execute(insert(model.__table__), chunk)  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            # Ids were assigned here; move each sequence past them.
            for model, _ in plan:
                table = model.__tablename__
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    )
                )


def database_is_empty(url: str) -> bool:
    with unit_of_work(url) as session:
        return session.scalar(select(func.count(Case.id))) == 0
