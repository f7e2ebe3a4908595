"""Read models for one case: what the case page, meeting mode and the before-clinic
summary show.

Every function takes a :class:`ServiceContext`, checks that the actor may view cases,
reads in one short transaction and returns plain frozen dataclasses (never ORM
objects). :func:`case_record` reads everything at once, in one transaction, for a
consistent snapshot; the smaller functions read one part each.

- :func:`case_header` — who and where on the pathway (identifying fields included;
  the screen decides whether to show them).
- :func:`workup` — every investigation with its status, dates, result and whether it
  is required for this presentation and still missing before the MDT.
- :func:`findings` — histopathology, IHC, molecular and serum results, newest first.
- :func:`ecog_series` — ECOG observations (with weight), oldest first.
- :func:`decisions` — every decision, superseded ones included, newest first.
- :func:`timeline` — everything that happened to the case, newest first, built from
  the domain rows and the audit trail (``case_record(..., timeline=False)`` skips it).
- :func:`case_profile` / :func:`case_profiles` — the :class:`~cupboard.guidance.CaseProfile`
  the guidance needs (batched for lists of cases).
- :func:`guidance_for` / :func:`requirements_for` — the guidance and the required
  workup of a profile, remembered per profile (a profile is an immutable value).

Reads select the columns they show, not whole ORM rows: loading model instances costs
several times more than the plain tuples these dataclasses are built from.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, aliased

from cupboard.errors import NotFoundError
from cupboard.guidance import (
    CaseProfile,
    Guidance,
    RequiredInvestigation,
    assess_case,
    canonical_serum_name,
)
from cupboard.guidance import _profile_requirements as profile_requirements
from cupboard.knowledge.decisions import (
    DECISION_KINDS_BY_CODE,
    DECISION_LABELS,
    DISCIPLINES,
    LOCAL_MODALITIES,
)
from cupboard.knowledge.histology import DIFFERENTIATION, HISTOLOGY_CATEGORIES, SPECIMEN_TYPES
from cupboard.knowledge.investigations import (
    INVESTIGATION_STATUS_LABELS,
    INVESTIGATIONS,
    INVESTIGATIONS_BY_CODE,
    MISSING_STATUSES,
)
from cupboard.knowledge.markers import (
    SERUM_MARKERS_BY_KEY,
    canonical_ihc_marker,
    is_ki67,
    marker_key,
)
from cupboard.knowledge.pathway import CASE_STATUS_LABELS, CLOSING_REASONS, DIAGNOSTIC_STAGES
from cupboard.knowledge.sites import METASTATIC_SITES, PRIMARY_SITES
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
)
from cupboard.services.context import ServiceContext
from cupboard.services.reading import age_on

# ---------------------------------------------------------------------------------
# Labels


def site_label(code: str) -> str:
    """A metastatic or primary site code in the clinic's words."""
    return METASTATIC_SITES.get(code) or PRIMARY_SITES.get(code) or code.replace("_", " ")


def ihc_text(marker: str, result: str, percentage: float | None = None) -> str:
    """``CK7+``, ``CK20−``, ``ER+ (80 %)``, ``HER2 equivocal``."""
    sign = {"positive": "+", "negative": "−"}.get(result)
    text = f"{marker}{sign}" if sign else f"{marker} {result}"
    if percentage is not None:
        text += f" ({percentage:g} %)"
    return text


def _number(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------------------------
# The read models


@dataclass(frozen=True)
class CaseHeader:
    """Who the case is about and where it is on the pathway.

    ``name``, ``mrn``, ``date_of_birth`` and ``phone`` identify the patient: a
    de-identified screen shows only ``pseudonym`` and ``age``.
    """

    case_id: int
    version: int
    pseudonym: str
    age: int
    sex: str
    name: str
    mrn: str
    date_of_birth: dt.date
    phone: str | None
    status: str
    status_label: str
    diagnostic_stage: str
    diagnostic_stage_label: str
    referral_date: dt.date
    pathway_start: dt.date
    pathway_day: int  # calendar days since the pathway started [SVF]
    presentation: str | None
    metastatic_sites: tuple[str, ...]
    lesion_count: int | None
    bone_pattern: str | None
    prior_malignancy: str | None
    oncologist: str | None
    navigator: str | None
    primary_found_site: str | None
    closing_reason: str | None
    closed_on: dt.date | None
    primary_found_by: str | None = None
    primary_found_on: dt.date | None = None
    referrer_name: str | None = None
    referrer_phone: str | None = None
    symptoms: tuple[str, ...] = ()
    pregnant: bool | None = None

    @property
    def site_labels(self) -> tuple[str, ...]:
        return tuple(site_label(s) for s in self.metastatic_sites)

    @property
    def closing_label(self) -> str | None:
        return CLOSING_REASONS.get(self.closing_reason or "")


@dataclass(frozen=True)
class WorkupRow:
    """One investigation of the standard workup as it stands for this case."""

    investigation_id: int
    version: int
    code: str
    label: str
    indication: str
    pathway_block: str
    source: str
    status: str
    status_label: str
    requested_on: dt.date | None
    booked_for: dt.date | None
    done_on: dt.date | None
    reported_on: dt.date | None
    result_text: str | None
    responsible: str | None
    reviewed_on: dt.date | None
    required: bool  # for this sex and presentation, by the guidance
    required_reason: str | None

    @property
    def applies(self) -> bool:
        return self.status != "not_indicated" or self.required

    @property
    def outstanding(self) -> bool:
        """Still to request, requested or booked."""
        return self.status in MISSING_STATUSES

    @property
    def missing_before_mdt(self) -> bool:
        """Required for this presentation and not yet done [assess contract]."""
        return self.required and self.status in MISSING_STATUSES


@dataclass(frozen=True)
class PathologyRow:
    id: int
    reported_on: dt.date
    histology: str
    differentiation: str | None
    biopsy_site: str | None
    specimen_type: str | None
    pathologist: str | None
    comment: str | None

    @property
    def histology_label(self) -> str:
        return HISTOLOGY_CATEGORIES.get(self.histology, self.histology)

    @property
    def differentiation_label(self) -> str | None:
        return DIFFERENTIATION.get(self.differentiation or "")

    @property
    def biopsy_site_label(self) -> str | None:
        return site_label(self.biopsy_site) if self.biopsy_site else None

    @property
    def specimen_label(self) -> str | None:
        return SPECIMEN_TYPES.get(self.specimen_type or "")

    @property
    def summary(self) -> str:
        parts = [self.histology_label]
        if self.differentiation_label and self.differentiation != "not_assessed":
            parts.append(self.differentiation_label.lower())
        if self.biopsy_site_label:
            parts.append(f"biopsy: {self.biopsy_site_label.lower()}")
        return ", ".join(parts)


@dataclass(frozen=True)
class IhcRow:
    id: int
    marker: str
    result: str
    percentage: float | None
    reported_on: dt.date
    pathology_report_id: int | None

    @property
    def text(self) -> str:
        return ihc_text(self.marker, self.result, self.percentage)


@dataclass(frozen=True)
class MolecularRow:
    id: int
    reported_on: dt.date
    msi_status: str | None
    mmr_status: str | None
    tmb: float | None
    pdl1_tps: float | None
    pdl1_cps: float | None
    alterations: tuple[str, ...]
    tissue_of_origin_site: str | None
    tissue_of_origin_confidence: float | None
    lab: str | None

    @property
    def summary(self) -> str:
        parts: list[str] = []
        if self.msi_status:
            parts.append(self.msi_status)
        if self.mmr_status:
            parts.append(f"MMR {self.mmr_status}")
        if self.tmb is not None:
            parts.append(f"TMB {_number(self.tmb)} mut/Mb")
        if self.pdl1_tps is not None:
            parts.append(f"PD-L1 TPS {_number(self.pdl1_tps)} %")
        if self.pdl1_cps is not None:
            parts.append(f"PD-L1 CPS {_number(self.pdl1_cps)}")
        parts.extend(self.alterations)
        if self.tissue_of_origin_site:
            confidence = self.tissue_of_origin_confidence
            too = f"tissue of origin {site_label(self.tissue_of_origin_site).lower()}"
            parts.append(f"{too} ({confidence:.2f})" if confidence is not None else too)
        return ", ".join(parts) or "no results given"


@dataclass(frozen=True)
class SerumRow:
    id: int
    marker: str
    value: float
    unit: str
    upper_limit_normal: float | None
    measured_on: dt.date

    @property
    def label(self) -> str:
        marker = SERUM_MARKERS_BY_KEY.get(marker_key(self.marker))
        return marker.label if marker else self.marker

    @property
    def raised(self) -> bool | None:
        """Above the laboratory's upper limit of normal; None when no limit was given."""
        if self.upper_limit_normal is None:
            return None
        return self.value > self.upper_limit_normal

    @property
    def text(self) -> str:
        flag = " ↑" if self.raised else ""
        return f"{self.label} {_number(self.value)} {self.unit}{flag}"


@dataclass(frozen=True)
class Findings:
    """Every finding of the case, each list newest first."""

    pathology: tuple[PathologyRow, ...]
    ihc: tuple[IhcRow, ...]
    molecular: tuple[MolecularRow, ...]
    serum: tuple[SerumRow, ...]

    @property
    def latest_pathology(self) -> PathologyRow | None:
        return self.pathology[0] if self.pathology else None

    @property
    def latest_molecular(self) -> MolecularRow | None:
        return self.molecular[0] if self.molecular else None

    @property
    def latest_ihc(self) -> tuple[IhcRow, ...]:
        """The latest result per marker, in the order first reported."""
        latest: dict[str, IhcRow] = {}
        for row in reversed(self.ihc):  # oldest first, so the newest wins
            latest[row.marker] = row
        return tuple(latest.values())

    @property
    def latest_serum(self) -> tuple[SerumRow, ...]:
        latest: dict[str, SerumRow] = {}
        for row in reversed(self.serum):
            latest[row.marker] = row
        return tuple(latest.values())

    @property
    def is_empty(self) -> bool:
        return not (self.pathology or self.ihc or self.molecular or self.serum)


@dataclass(frozen=True)
class EcogPoint:
    id: int
    observed_on: dt.date
    score: int
    weight_kg: float | None
    note: str | None


@dataclass(frozen=True)
class DecisionRow:
    """A recorded decision; amendments are new rows, the old one marked superseded."""

    id: int
    version: int
    code: str
    presumed_primary: str | None
    regimen: str | None
    biomarker: str | None
    alteration: str | None
    target_site: str | None
    local_modality: str | None
    workup_requested: str | None
    plan: str | None
    rationale: str
    ecog_at_decision: int | None
    attendees: tuple[dict[str, str], ...]
    decided_on: dt.date
    decided_by: str | None
    chair: str | None
    meeting_id: int | None
    meeting_date: dt.date | None
    amends_decision_id: int | None
    superseded: bool
    treatment_started_on: dt.date | None
    follow_up_due: dt.date | None
    follow_up_done_on: dt.date | None
    recorded_at: dt.datetime | None = None  # when it was entered (UTC)
    meeting_title: str | None = None

    @property
    def label(self) -> str:
        return DECISION_LABELS.get(self.code, self.code)

    @property
    def detail(self) -> str | None:
        """What the decision names, e.g. ``Presumed primary: Breast``."""
        kind = DECISION_KINDS_BY_CODE.get(self.code)
        parts: list[str] = []
        if self.presumed_primary:
            parts.append(f"Presumed primary: {site_label(self.presumed_primary)}")
        if self.regimen:
            parts.append(f"Regimen: {self.regimen}")
        if self.biomarker:
            parts.append(f"Biomarker: {self.biomarker}")
        if self.alteration:
            parts.append(f"Alteration: {self.alteration}")
        if self.local_modality:
            parts.append(f"Modality: {LOCAL_MODALITIES.get(self.local_modality)}")
        if self.target_site:
            parts.append(f"Site: {self.target_site}")
        if self.workup_requested:
            parts.append(f"Workup: {self.workup_requested}")
        if not parts and kind is not None and kind.required_detail is None:
            return None
        return "; ".join(parts) or None

    @property
    def attendee_text(self) -> str:
        return ", ".join(
            f"{a.get('name')} ({DISCIPLINES.get(a.get('discipline', ''), a.get('discipline'))})"
            for a in self.attendees
        )


@dataclass(frozen=True)
class AgendaEntry:
    """A meeting this case is (or was) on the agenda of."""

    agenda_item_id: int
    version: int
    meeting_id: int
    meeting_date: dt.date
    title: str
    position: int
    question: str | None
    chair_id: int | None
    attendees: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that happened to the case.

    ``kind`` is one of referral, status, investigation, finding, ecog, meeting,
    decision; ``at`` is the time when known (audit events), else None.
    """

    on: dt.date
    at: dt.datetime | None
    kind: str
    title: str
    detail: str | None = None
    by: str | None = None

    @property
    def sort_key(self) -> tuple[dt.date, dt.datetime, int]:
        at = self.at or dt.datetime.combine(self.on, dt.time.min)
        at = at.replace(tzinfo=None)
        return (self.on, at, _KIND_ORDER.get(self.kind, 0))


# Same day, no time: referral before workup before findings before meeting before decision.
_KIND_ORDER = {
    "referral": 0,
    "investigation": 1,
    "finding": 2,
    "ecog": 3,
    "meeting": 4,
    "decision": 5,
    "status": 6,
}


@dataclass(frozen=True)
class CaseRecord:
    """Everything about one case, read in one transaction."""

    header: CaseHeader
    workup: tuple[WorkupRow, ...]
    findings: Findings
    ecog: tuple[EcogPoint, ...]
    decisions: tuple[DecisionRow, ...]
    agenda: tuple[AgendaEntry, ...]
    timeline: tuple[TimelineEvent, ...]
    picture: CasePicture

    @property
    def profile(self) -> CaseProfile:
        """What the guidance reads (every report merged)."""
        return self.picture.profile

    @property
    def conflicts(self) -> tuple[RecordConflict, ...]:
        """Results that two reports of this case disagree on."""
        return self.picture.conflicts

    @property
    def latest_ecog(self) -> EcogPoint | None:
        return self.ecog[-1] if self.ecog else None

    @property
    def current_decisions(self) -> tuple[DecisionRow, ...]:
        return tuple(d for d in self.decisions if not d.superseded)

    @property
    def workup_total(self) -> int:
        """Investigations that apply (everything not marked "not indicated")."""
        return sum(1 for r in self.workup if r.status != "not_indicated")

    @property
    def workup_done(self) -> int:
        """Of those, done, reported or declined (as the queue counts them)."""
        return sum(1 for r in self.workup if r.status != "not_indicated" and not r.outstanding)

    @property
    def missing_before_mdt(self) -> tuple[WorkupRow, ...]:
        return tuple(r for r in self.workup if r.missing_before_mdt)


# ---------------------------------------------------------------------------------
# Loading (one session; shared by the public functions below)


def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


def _load_header(session: Session, case_id: int, today: dt.date) -> CaseHeader:
    oncologist, navigator = aliased(User), aliased(User)
    row = session.execute(
        select(Case, Patient, oncologist.display_name, navigator.display_name)
        .join(Patient, Case.patient_id == Patient.id)
        .outerjoin(oncologist, Case.oncologist_id == oncologist.id)
        .outerjoin(navigator, Case.navigator_id == navigator.id)
        .where(Case.id == case_id)
    ).first()
    if row is None:
        raise NotFoundError("case", case_id)
    case, patient, oncologist_name, navigator_name = row
    return CaseHeader(
        case_id=case.id,
        version=case.version,
        pseudonym=patient.pseudonym,
        age=age_on(patient.date_of_birth, today),
        sex=patient.sex,
        name=patient.name,
        mrn=patient.mrn,
        date_of_birth=patient.date_of_birth,
        phone=patient.phone,
        status=case.status,
        status_label=CASE_STATUS_LABELS.get(case.status, case.status),
        diagnostic_stage=case.diagnostic_stage,
        diagnostic_stage_label=DIAGNOSTIC_STAGES.get(case.diagnostic_stage, case.diagnostic_stage),
        referral_date=case.referral_date,
        pathway_start=case.pathway_start,
        pathway_day=(today - case.pathway_start).days,
        presentation=case.presentation,
        metastatic_sites=tuple(case.metastatic_sites or ()),
        lesion_count=case.lesion_count,
        bone_pattern=case.bone_pattern,
        prior_malignancy=patient.prior_malignancy,
        oncologist=oncologist_name,
        navigator=navigator_name,
        primary_found_site=case.primary_found_site,
        closing_reason=case.closing_reason,
        closed_on=case.closed_on,
        primary_found_by=case.primary_found_by,
        primary_found_on=case.primary_found_on,
        referrer_name=patient.referrer_name,
        referrer_phone=patient.referrer_phone,
        symptoms=tuple(case.symptoms or ()),
        pregnant=case.pregnant,
    )


# Only the columns a read model shows: whole ORM rows cost far more to load (identity
# map, change tracking) than the plain tuples the dataclasses below are built from.
_INVESTIGATION_COLUMNS = (
    Investigation.id,
    Investigation.case_id,
    Investigation.version,
    Investigation.code,
    Investigation.status,
    Investigation.requested_on,
    Investigation.booked_for,
    Investigation.done_on,
    Investigation.reported_on,
    Investigation.result_text,
    Investigation.responsible,
    Investigation.reviewed_on,
)


@dataclass(frozen=True, slots=True)
class InvestigationSnapshot:
    """One investigation's workup fields as a save left them: plain values, no longer
    tied to the session, read like a row of :func:`_investigations`."""

    id: int
    case_id: int
    version: int
    code: str
    status: str
    requested_on: dt.date | None
    booked_for: dt.date | None
    done_on: dt.date | None
    reported_on: dt.date | None
    result_text: str | None
    responsible: str | None
    reviewed_on: dt.date | None

    @classmethod
    def of(cls, investigation: Investigation) -> InvestigationSnapshot:
        return cls(**{c.key: getattr(investigation, c.key) for c in _INVESTIGATION_COLUMNS})


# One investigation as the workup reads it (``row.code``, ``row.status``, ``row.version``):
# a row read for a page, or what a save left.
InvestigationRow = Row[Any] | InvestigationSnapshot


def investigations_of_case(session: Session, case_id: int) -> tuple[InvestigationRow, ...]:
    """The case's investigations, read in the caller's transaction."""
    return tuple(_investigations(session, [case_id]))


def _investigations(session: Session, case_ids: Sequence[int]) -> list[Row[Any]]:
    """Every investigation of the cases, with the columns the workup shows (rows read
    like the model: ``row.code``, ``row.status``)."""
    return list(
        session.execute(
            select(*_INVESTIGATION_COLUMNS)
            .where(Investigation.case_id.in_(case_ids))
            .order_by(Investigation.case_id, Investigation.id)
        )
    )


def _workup_statuses(session: Session, case_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """Each case's investigation statuses by code (one per code), in creation order."""
    statuses: dict[int, dict[str, str]] = defaultdict(dict)
    for case_id, code, status in session.execute(
        select(Investigation.case_id, Investigation.code, Investigation.status)
        .where(Investigation.case_id.in_(case_ids))
        .order_by(Investigation.case_id, Investigation.id)
    ):
        statuses[case_id][code] = status
    return statuses


def _workup_rows(
    investigations: Iterable[InvestigationRow], required: Sequence[RequiredInvestigation]
) -> tuple[WorkupRow, ...]:
    reasons = {r.code: r.reason for r in required}
    order = {item.code: n for n, item in enumerate(INVESTIGATIONS)}
    rows = []
    for inv in sorted(investigations, key=lambda i: order.get(i.code, len(order))):
        item = INVESTIGATIONS_BY_CODE.get(inv.code)
        rows.append(
            WorkupRow(
                investigation_id=inv.id,
                version=inv.version,
                code=inv.code,
                label=item.label if item else inv.code,
                indication=item.indication if item else "",
                pathway_block=item.pathway_block if item else "",
                source=item.source if item else "",
                status=inv.status,
                status_label=INVESTIGATION_STATUS_LABELS.get(inv.status, inv.status),
                requested_on=inv.requested_on,
                booked_for=inv.booked_for,
                done_on=inv.done_on,
                reported_on=inv.reported_on,
                result_text=inv.result_text,
                responsible=inv.responsible,
                reviewed_on=inv.reviewed_on,
                required=inv.code in reasons,
                required_reason=reasons.get(inv.code),
            )
        )
    return tuple(rows)


T = TypeVar("T")
# The tables of a case's findings (each has ``id`` and ``case_id``).
FindingModel = PathologyReport | IhcResult | MolecularReport | SerumMarkerResult


def _newest_first_per_case(
    session: Session,
    model: type[FindingModel],
    columns: Sequence[Any],
    dated_by: Any,
    case_ids: Sequence[int],
    make: Callable[..., T],
) -> dict[int, list[T]]:
    """One findings table's rows for several cases in one query: each case's list
    newest first (by ``dated_by``, then by entry), each row made from ``columns``."""
    rows: dict[int, list[T]] = defaultdict(list)
    for case_id, *values in session.execute(
        select(model.case_id, *columns)
        .where(model.case_id.in_(case_ids))
        .order_by(dated_by.desc(), model.id.desc())
    ):
        rows[case_id].append(make(*values))
    return rows


def _molecular_row(*values: Any) -> MolecularRow:
    """A molecular report's row; its alterations as a tuple (the column may be null)."""
    *before, alterations, site, confidence, lab = values
    return MolecularRow(*before, tuple(alterations or ()), site, confidence, lab)


def _load_findings(session: Session, case_ids: Sequence[int]) -> dict[int, Findings]:
    """Findings of several cases, each list newest first (four queries in all)."""
    pathology = _newest_first_per_case(
        session,
        PathologyReport,
        (
            PathologyReport.id,
            PathologyReport.reported_on,
            PathologyReport.histology,
            PathologyReport.differentiation,
            PathologyReport.biopsy_site,
            PathologyReport.specimen_type,
            PathologyReport.pathologist,
            PathologyReport.comment,
        ),
        PathologyReport.reported_on,
        case_ids,
        PathologyRow,
    )
    ihc = _newest_first_per_case(
        session,
        IhcResult,
        (
            IhcResult.id,
            IhcResult.marker,
            IhcResult.result,
            IhcResult.percentage,
            IhcResult.reported_on,
            IhcResult.pathology_report_id,
        ),
        IhcResult.reported_on,
        case_ids,
        IhcRow,
    )
    molecular = _newest_first_per_case(
        session,
        MolecularReport,
        (
            MolecularReport.id,
            MolecularReport.reported_on,
            MolecularReport.msi_status,
            MolecularReport.mmr_status,
            MolecularReport.tmb,
            MolecularReport.pdl1_tps,
            MolecularReport.pdl1_cps,
            MolecularReport.alterations,
            MolecularReport.tissue_of_origin_site,
            MolecularReport.tissue_of_origin_confidence,
            MolecularReport.lab,
        ),
        MolecularReport.reported_on,
        case_ids,
        _molecular_row,
    )
    serum = _newest_first_per_case(
        session,
        SerumMarkerResult,
        (
            SerumMarkerResult.id,
            SerumMarkerResult.marker,
            SerumMarkerResult.value,
            SerumMarkerResult.unit,
            SerumMarkerResult.upper_limit_normal,
            SerumMarkerResult.measured_on,
        ),
        SerumMarkerResult.measured_on,
        case_ids,
        SerumRow,
    )
    return {
        case_id: Findings(
            tuple(pathology[case_id]),
            tuple(ihc[case_id]),
            tuple(molecular[case_id]),
            tuple(serum[case_id]),
        )
        for case_id in case_ids
    }


def _load_ecog(session: Session, case_ids: Sequence[int]) -> dict[int, list[EcogPoint]]:
    """Every ECOG observation of the cases, oldest first."""
    series: dict[int, list[EcogPoint]] = defaultdict(list)
    for case_id, *row in session.execute(
        select(
            EcogObservation.case_id,
            EcogObservation.id,
            EcogObservation.observed_on,
            EcogObservation.score,
            EcogObservation.weight_kg,
            EcogObservation.note,
        )
        .where(EcogObservation.case_id.in_(case_ids))
        .order_by(EcogObservation.observed_on, EcogObservation.id)
    ):
        series[case_id].append(EcogPoint(*row))
    return series


def latest_ecog(session: Session, case_ids: Sequence[int]) -> dict[int, tuple[int, dt.date]]:
    """The latest ECOG (score, date) per case, picked in SQL with a window function:
    lists of cases need the latest score, not the whole history."""
    ranked = (
        select(
            EcogObservation.case_id,
            EcogObservation.score,
            EcogObservation.observed_on,
            func.row_number()
            .over(
                partition_by=EcogObservation.case_id,
                order_by=(EcogObservation.observed_on.desc(), EcogObservation.id.desc()),
            )
            .label("rank"),
        )
        .where(EcogObservation.case_id.in_(case_ids))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.case_id, ranked.c.score, ranked.c.observed_on).where(ranked.c.rank == 1)
    )
    return {case_id: (score, on) for case_id, score, on in rows}


def _load_decisions(session: Session, case_id: int) -> tuple[DecisionRow, ...]:
    rows = session.execute(
        select(Decision, MdtMeeting.meeting_date, MdtMeeting.title)
        .outerjoin(MdtMeeting, Decision.meeting_id == MdtMeeting.id)
        .where(Decision.case_id == case_id)
        .order_by(Decision.decided_on.desc(), Decision.id.desc())
    ).all()
    names = _user_names(
        session, [d.decided_by_id for d, *_ in rows] + [d.chair_id for d, *_ in rows]
    )
    return tuple(
        DecisionRow(
            id=d.id,
            version=d.version,
            code=d.code,
            presumed_primary=d.presumed_primary,
            regimen=d.regimen,
            biomarker=d.biomarker,
            alteration=d.alteration,
            target_site=d.target_site,
            local_modality=d.local_modality,
            workup_requested=d.workup_requested,
            plan=d.plan,
            rationale=d.rationale,
            ecog_at_decision=d.ecog_at_decision,
            attendees=tuple(dict(a) for a in d.attendees or ()),
            decided_on=d.decided_on,
            decided_by=names.get(d.decided_by_id) if d.decided_by_id else None,
            chair=names.get(d.chair_id) if d.chair_id else None,
            meeting_id=d.meeting_id,
            meeting_date=meeting_date,
            amends_decision_id=d.amends_decision_id,
            superseded=d.superseded,
            treatment_started_on=d.treatment_started_on,
            follow_up_due=d.follow_up_due,
            follow_up_done_on=d.follow_up_done_on,
            recorded_at=_as_utc(d.created_at) if d.created_at else None,
            meeting_title=meeting_title,
        )
        for d, meeting_date, meeting_title in rows
    )


def _load_agenda(session: Session, case_id: int) -> tuple[AgendaEntry, ...]:
    rows = session.execute(
        select(AgendaItem, MdtMeeting)
        .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
        .where(AgendaItem.case_id == case_id)
        .order_by(MdtMeeting.meeting_date.desc(), MdtMeeting.id.desc())
    )
    return tuple(
        AgendaEntry(
            item.id,
            item.version,
            meeting.id,
            meeting.meeting_date,
            meeting.title,
            item.position,
            item.question,
            meeting.chair_id,
            tuple(dict(a) for a in meeting.attendees or ()),
        )
        for item, meeting in rows
    )


# ---------------------------------------------------------------------------------
# The case profile the guidance reads


@dataclass(frozen=True)
class Provenance:
    """Where a value of the case's picture comes from: which report, of which day."""

    report: str  # histopathology | IHC | molecular report | serum marker | ECOG
    report_id: int | None  # None for the latest ECOG of a list (picked by date in SQL)
    on: dt.date

    @property
    def text(self) -> str:
        return f"{self.report} of {self.on.isoformat()}"


@dataclass(frozen=True)
class RecordConflict:
    """Two reports that disagree on one result (MSI-H in one, MSS in another; ER+ then
    ER−). The newest value is what the guidance reads, but the board must see both:
    a conflict is shown, never silently resolved."""

    field: str  # "MSI", "MMR", "ER", "tissue of origin"
    newer: str
    newer_from: Provenance
    older: str
    older_from: Provenance

    @property
    def message(self) -> str:
        return (
            f"{self.field}: {self.newer} in the {self.newer_from.text}, "
            f"but {self.older} in the {self.older_from.text}"
        )


@dataclass(frozen=True)
class CasePicture:
    """The one clinical picture of a case, built from everything recorded.

    ``profile`` is what the guidance reads: every report merged, the newest value per
    marker or field winning. ``provenance`` says for each value which report gave it
    (keys: ``histology``, ``ihc.<marker>``, ``serum.<code>``, ``msi``, ``mmr``, ``tmb``,
    ``pdl1_tps``, ``pdl1_cps``, ``tissue_of_origin``, ``alteration.<text>``, ``ecog``);
    ``conflicts`` lists results that earlier reports contradict.
    """

    profile: CaseProfile
    sources: Mapping[str, SourceRow]
    conflicts: tuple[RecordConflict, ...]

    @functools.cached_property
    def provenance(self) -> Mapping[str, Provenance]:
        # Built when a screen asks: lists of cases (the queue, analytics) need only the
        # profile, and the rows it came from are already at hand.
        return {key: _provenance_of(row) for key, row in self.sources.items()}

    def molecular_lines(self) -> tuple[str, ...]:
        """The merged molecular results, one line per report that still gives one
        (newest first): ``Molecular report of 2026-03-02: ETV6::NTRK3 fusion``."""
        p = self.profile
        values: list[tuple[str, str]] = []
        if p.msi:
            values.append(("msi", p.msi))
        if p.mmr:
            values.append(("mmr", f"MMR {p.mmr}"))
        if p.tmb is not None:
            values.append(("tmb", f"TMB {_number(p.tmb)} mut/Mb"))
        if p.pdl1_tps is not None:
            values.append(("pdl1_tps", f"PD-L1 TPS {_number(p.pdl1_tps)} %"))
        if p.pdl1_cps is not None:
            values.append(("pdl1_cps", f"PD-L1 CPS {_number(p.pdl1_cps)}"))
        for alteration in p.alterations:
            label = getattr(alteration, "label", alteration)
            values.append((f"alteration.{label}", str(label)))
        if p.tissue_of_origin:
            confidence = p.tissue_of_origin_confidence
            too = f"tissue of origin {site_label(p.tissue_of_origin).lower()}"
            values.append(
                (
                    "tissue_of_origin",
                    f"{too} ({confidence:.2f})" if confidence is not None else too,
                )
            )
        by_report: dict[Provenance, list[str]] = {}
        for key, text in values:
            source = self.provenance.get(key)
            if source is not None:
                by_report.setdefault(source, []).append(text)
        ordered = sorted(by_report.items(), key=lambda kv: (kv[0].on, kv[0].report_id or 0))
        return tuple(
            f"Molecular report of {source.on.isoformat()}: {', '.join(texts)}"
            for source, texts in reversed(ordered)
        )


# A row of the findings a value of the picture was read from (or, for the latest ECOG of
# a list, its Provenance directly).
SourceRow = IhcRow | SerumRow | PathologyRow | MolecularRow | Provenance

_REPORT_KINDS: dict[type, str] = {
    IhcRow: "IHC",
    SerumRow: "serum marker",
    PathologyRow: "histopathology",
    MolecularRow: "molecular report",
}


def _provenance_of(row: SourceRow) -> Provenance:
    if isinstance(row, Provenance):
        return row
    on = row.measured_on if isinstance(row, SerumRow) else row.reported_on
    return Provenance(_REPORT_KINDS[type(row)], row.id, on)


# Results that contradict each other when two reports give them for one case. A later
# report may add to an earlier one (NGS after MMR IHC) but should not overturn it
# without the board noticing: MSI-H against MSS, dMMR against pMMR, ER+ against ER−.
_MSI_CLASS = {"MSI-H": "high", "MSS": "stable", "MSI-L": "stable"}
_OPPOSITE_IHC = {frozenset({"positive", "negative"})}


def build_picture(
    *,
    sex: str,
    age: int,
    sites: Sequence[str],
    bone_pattern: str | None,
    lesions: int | None,
    findings: Findings,
    ecog: tuple[int, dt.date] | None,
    workup_statuses: dict[str, str],
    prior_malignancy: str | None = None,
    symptoms: Sequence[str] = (),
    pregnant: bool | None = None,
) -> CasePicture:
    """The case's clinical picture from its rows: the latest histology, the latest IHC
    result per marker, the latest serum value per marker (LDH read against the
    laboratory's upper limit as normal/raised, left out when no limit was recorded),
    every molecular report merged (the newest report that gives a field wins it; the
    alterations of all reports together), the latest ECOG and every investigation's
    status, each value with the report it came from, and the results that reports
    contradict."""
    sources: dict[str, SourceRow] = {}
    conflicts: list[RecordConflict] = []

    # Oldest first, keyed by the catalogue's name: the newest result per marker wins,
    # whichever spelling each result was recorded under ("CDX2", "cdx-2").
    ihc: dict[str, IhcRow] = {}
    ki67: IhcRow | None = None
    for row in reversed(findings.ihc):
        marker = _ihc_name(row.marker)
        if marker == _KI67:
            # Ki-67 is a proliferation index, read as its percentage, not as +/−.
            if row.percentage is not None:
                ki67 = row
            continue
        if marker is None:
            continue
        earlier = ihc.get(marker)
        if earlier is not None and frozenset({earlier.result, row.result}) in _OPPOSITE_IHC:
            conflicts.append(
                RecordConflict(
                    marker,
                    ihc_text(marker, row.result),
                    _provenance_of(row),
                    ihc_text(marker, earlier.result),
                    _provenance_of(earlier),
                )
            )
        ihc[marker] = row
    for marker, row in ihc.items():
        sources[f"ihc.{marker}"] = row
    if ki67 is not None:
        sources["ki67"] = ki67

    latest_serum: dict[str, SerumRow] = {}
    for serum_row in reversed(findings.serum):
        code = canonical_serum_name(serum_row.marker)
        if code is not None:
            latest_serum[code] = serum_row
    serum: dict[str, float | str] = {}
    for code, serum_row in latest_serum.items():
        if code != "LDH":
            serum[code] = serum_row.value
        elif serum_row.raised is not None:  # the newest LDH, read against its own limit
            serum[code] = "raised" if serum_row.raised else "normal"
        else:
            continue
        sources[f"serum.{code}"] = serum_row

    pathology = findings.latest_pathology
    if pathology is not None:
        sources["histology"] = pathology

    molecular = _merge_molecular(findings.molecular, sources, conflicts)

    score: int | None = None
    if ecog is not None:
        score, observed_on = ecog
        sources["ecog"] = Provenance("ECOG", None, observed_on)

    profile = CaseProfile(
        sex=sex,
        age=age,
        histology=pathology.histology if pathology else None,
        sites=tuple(sites),
        bone_pattern=bone_pattern,
        lesions=lesions,
        ihc={marker: row.result for marker, row in ihc.items()},
        serum=serum,
        ecog=score,
        workup=workup_statuses,
        ki67=ki67.percentage if ki67 is not None else None,
        previous_malignancy=previous_malignancy_site(prior_malignancy),
        symptoms=tuple(symptoms),
        pregnant=pregnant,
        **molecular,
    )
    return CasePicture(profile, sources, tuple(conflicts))


_KI67 = "Ki-67"


# Lists of cases read the same few dozen marker spellings thousands of times.
@functools.lru_cache(maxsize=1024)
def _ihc_name(recorded: str) -> str | None:
    """The catalogue's name of a recorded IHC marker (Ki-67 as :data:`_KI67`)."""
    return _KI67 if is_ki67(recorded) else canonical_ihc_marker(recorded)


def previous_malignancy_site(text: str | None) -> str | None:
    """The primary-site code of an earlier cancer, when the referral names one as the
    catalogue does ("breast", "Breast"); free text the catalogue cannot read stays
    text on the case page and is not guessed at."""
    if not text:
        return None
    wanted = text.strip().lower()
    for code, label in PRIMARY_SITES.items():
        if wanted in (code, label.lower()):
            return code
    return None


def _merge_molecular(
    reports: Sequence[MolecularRow],
    sources: dict[str, SourceRow],
    conflicts: list[RecordConflict],
) -> dict[str, Any]:
    """Every molecular report merged into the profile's molecular fields.

    A later NGS panel often reports only what it tested (an NTRK fusion) and leaves MSI,
    MMR and TMB blank: a blank is "not reported here", never "gone", so each field is
    taken from the newest report that gives it, and the alterations of every report
    are kept (newest first)."""
    fields: dict[str, Any] = {}
    alterations: dict[str, None] = {}
    for report in reports:  # newest first: the first report that gives a field wins it
        source = report
        for name, value in (
            ("msi", report.msi_status),
            ("mmr", report.mmr_status),
            ("tmb", report.tmb),
            ("pdl1_tps", report.pdl1_tps),
            ("pdl1_cps", report.pdl1_cps),
            ("tissue_of_origin", report.tissue_of_origin_site),
        ):
            if value is None:
                continue
            if name not in fields:
                fields[name] = value
                sources[name] = source
                if name == "tissue_of_origin":
                    fields["tissue_of_origin_confidence"] = report.tissue_of_origin_confidence
            elif _contradicts(name, fields[name], value):
                conflicts.append(
                    RecordConflict(
                        _CONFLICT_FIELDS[name],
                        _molecular_text(name, fields[name]),
                        _provenance_of(sources[name]),
                        _molecular_text(name, value),
                        _provenance_of(source),
                    )
                )
        for alteration in report.alterations:
            if alteration not in alterations:
                alterations[alteration] = None
                sources[f"alteration.{alteration}"] = source
    return {
        "msi": fields.get("msi"),
        "mmr": fields.get("mmr"),
        "tmb": fields.get("tmb"),
        "pdl1_tps": fields.get("pdl1_tps"),
        "pdl1_cps": fields.get("pdl1_cps"),
        "alterations": tuple(alterations),
        "tissue_of_origin": fields.get("tissue_of_origin"),
        "tissue_of_origin_confidence": fields.get("tissue_of_origin_confidence"),
    }


_CONFLICT_FIELDS = {"msi": "MSI", "mmr": "MMR", "tissue_of_origin": "Tissue of origin"}


def _contradicts(name: str, newer: Any, older: Any) -> bool:
    """Whether two reports' values for a field disagree in a way the board must see.
    TMB and PD-L1 are measurements that differ between assays and samples: the newest
    is shown with its source, not raised as a conflict."""
    if name == "msi":
        return _MSI_CLASS.get(newer) != _MSI_CLASS.get(older)
    if name in ("mmr", "tissue_of_origin"):
        return bool(newer != older)
    return False


def _molecular_text(name: str, value: Any) -> str:
    if name == "mmr":
        return f"MMR {value}"
    if name == "tissue_of_origin":
        return site_label(str(value)).lower()
    return str(value)


def _requirements(profile: CaseProfile) -> tuple[RequiredInvestigation, ...]:
    # The guidance's own reading of a whole profile, so whatever the rules come to need
    # (serum markers, symptoms) the workup follows without a second list of arguments.
    return profile_requirements(profile)


# A profile is an immutable value (hashable) and the guidance a pure function of it, so
# an answer kept per profile never goes stale: a change to the case makes a new profile.
# Pages ask again for the same cases on every rerun (the queue, for each of its rows).
GUIDANCE_CACHE_SIZE = 1024


@functools.lru_cache(maxsize=GUIDANCE_CACHE_SIZE)
def requirements_for(profile: CaseProfile) -> tuple[RequiredInvestigation, ...]:
    """The investigations this presentation requires, with why (remembered per profile)."""
    return _requirements(profile)


@functools.lru_cache(maxsize=GUIDANCE_CACHE_SIZE)
def guidance_for(profile: CaseProfile) -> Guidance:
    """:func:`cupboard.guidance.assess_case`, remembered per profile. The result is
    shared by every caller: it is frozen, and must be treated as such."""
    return assess_case(profile)


@dataclass(frozen=True)
class ProfileBatch:
    """What a list of cases needs to know about each: the guidance's profile, the
    investigation statuses by code and the latest ECOG (score, date)."""

    profiles: dict[int, CaseProfile]
    workup: dict[int, dict[str, str]]
    latest_ecog: dict[int, tuple[int, dt.date]]
    pictures: dict[int, CasePicture] = field(default_factory=dict)


# Each table is read with one IN list of case ids; a long list (a cohort) is read in
# chunks of this many cases, so that no statement exceeds a driver's parameter limit.
PROFILE_CHUNK = 500


def load_profiles(
    session: Session,
    case_ids: Sequence[int],
    today: dt.date,
    *,
    workup_statuses: dict[int, dict[str, str]] | None = None,
) -> ProfileBatch:
    """Pictures and profiles of any number of cases with a fixed number of queries per
    :data:`PROFILE_CHUNK` cases (no N+1), with the statuses and latest ECOG they were
    built from: the one reader of a case's clinical picture for lists (the queue, the
    worklist, analytics, the exports); pages call :func:`case_profiles`.
    ``workup_statuses``, when the caller has read them already, saves reading them
    again."""
    case_ids = list(case_ids)
    if len(case_ids) <= PROFILE_CHUNK:
        return _load_profile_chunk(session, case_ids, today, workup_statuses)
    batch = ProfileBatch({}, {}, {}, {})
    for start in range(0, len(case_ids), PROFILE_CHUNK):
        part = _load_profile_chunk(
            session, case_ids[start : start + PROFILE_CHUNK], today, workup_statuses
        )
        batch.profiles.update(part.profiles)
        batch.workup.update(part.workup)
        batch.latest_ecog.update(part.latest_ecog)
        batch.pictures.update(part.pictures)
    return batch


def _load_profile_chunk(
    session: Session,
    case_ids: Sequence[int],
    today: dt.date,
    workup_statuses: dict[int, dict[str, str]] | None,
) -> ProfileBatch:
    if not case_ids:
        return ProfileBatch({}, {}, {}, {})
    basics = session.execute(
        select(
            Case.id,
            Patient.sex,
            Patient.date_of_birth,
            Case.metastatic_sites,
            Case.bone_pattern,
            Case.lesion_count,
            Patient.prior_malignancy,
            Case.symptoms,
            Case.pregnant,
        )
        .join(Patient, Case.patient_id == Patient.id)
        .where(Case.id.in_(case_ids))
    ).all()
    if workup_statuses is None:
        workup_statuses = _workup_statuses(session, case_ids)
    findings = _load_findings(session, case_ids)
    ecog = latest_ecog(session, case_ids)
    pictures = {
        case_id: build_picture(
            sex=sex,
            age=age_on(dob, today),
            sites=tuple(sites or ()),
            bone_pattern=bone_pattern,
            lesions=lesions,
            findings=findings[case_id],
            ecog=ecog.get(case_id),
            workup_statuses=workup_statuses.get(case_id, {}),
            prior_malignancy=prior,
            symptoms=tuple(symptoms or ()),
            pregnant=pregnant,
        )
        for case_id, sex, dob, sites, bone_pattern, lesions, prior, symptoms, pregnant in basics
    }
    profiles = {case_id: picture.profile for case_id, picture in pictures.items()}
    return ProfileBatch(profiles, workup_statuses, ecog, pictures)


def _picture_of(
    header: CaseHeader,
    findings: Findings,
    series: Sequence[EcogPoint],
    investigations: Iterable[Row[Any]],
) -> CasePicture:
    """One case's picture from what :func:`case_record` has read anyway."""
    latest = series[-1] if series else None  # oldest first: the last is the latest
    return build_picture(
        sex=header.sex,
        age=header.age,
        sites=header.metastatic_sites,
        bone_pattern=header.bone_pattern,
        lesions=header.lesion_count,
        findings=findings,
        ecog=(latest.score, latest.observed_on) if latest else None,
        workup_statuses={i.code: i.status for i in investigations},
        prior_malignancy=header.prior_malignancy,
        symptoms=header.symptoms,
        pregnant=header.pregnant,
    )


# ---------------------------------------------------------------------------------
# The timeline


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _status_label(value: Any) -> str:
    return CASE_STATUS_LABELS.get(str(value), str(value)) if value is not None else "—"


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _investigation_events(rows: Sequence[WorkupRow], today: dt.date) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for r in rows:
        if r.requested_on:
            events.append(
                TimelineEvent(r.requested_on, None, "investigation", f"{r.label} requested")
            )
        if r.booked_for and r.booked_for <= today and r.done_on is None:
            events.append(
                TimelineEvent(r.booked_for, None, "investigation", f"{r.label} appointment")
            )
        if r.done_on and r.done_on != r.reported_on:
            events.append(TimelineEvent(r.done_on, None, "investigation", f"{r.label} done"))
        if r.reported_on:
            events.append(
                TimelineEvent(
                    r.reported_on, None, "investigation", f"{r.label} reported", r.result_text
                )
            )
        if r.reviewed_on:
            events.append(
                TimelineEvent(r.reviewed_on, None, "investigation", f"{r.label} result reviewed")
            )
    return events


def _finding_events(findings: Findings) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for p in findings.pathology:
        events.append(TimelineEvent(p.reported_on, None, "finding", "Histopathology", p.summary))
    panels: dict[dt.date, list[str]] = defaultdict(list)
    for row in reversed(findings.ihc):
        panels[row.reported_on].append(row.text)
    for day, texts in panels.items():
        events.append(TimelineEvent(day, None, "finding", "IHC", ", ".join(texts)))
    for m in findings.molecular:
        events.append(TimelineEvent(m.reported_on, None, "finding", "Molecular report", m.summary))
    for s in findings.serum:
        events.append(TimelineEvent(s.measured_on, None, "finding", "Serum marker", s.text))
    return events


def _decision_events(decisions: Sequence[DecisionRow]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for d in decisions:
        title = f"MDT decision: {d.label}"
        if d.amends_decision_id:
            title = f"Decision amended: {d.label}"
        if d.superseded:
            title += " (superseded)"
        detail = "; ".join(x for x in (d.detail, d.rationale) if x)
        # Entered on the day it was decided: the entry time orders it within the day.
        at = d.recorded_at if d.recorded_at and d.recorded_at.date() == d.decided_on else None
        events.append(TimelineEvent(d.decided_on, at, "decision", title, detail, d.decided_by))
        if d.treatment_started_on and not d.superseded:
            events.append(
                TimelineEvent(
                    d.treatment_started_on, None, "decision", f"Treatment started: {d.label}"
                )
            )
        if d.follow_up_done_on and not d.superseded:
            events.append(TimelineEvent(d.follow_up_done_on, None, "decision", "Follow-up done"))
    return events


def _audit_events(
    session: Session, case_id: int, workup_rows: Sequence[WorkupRow]
) -> list[TimelineEvent]:
    """What the domain rows do not keep: status changes, agenda changes, who did it."""
    labels = {r.investigation_id: r.label for r in workup_rows}
    audit = list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
        )
    )
    meeting_ids = {
        after.get("meeting_id")
        for after in (_json(e.after) for e in audit if e.entity == "agenda_item")
        if isinstance(after, dict)
    }
    meeting_dates = dict(
        session.execute(
            select(MdtMeeting.id, MdtMeeting.meeting_date).where(MdtMeeting.id.in_(meeting_ids))
        ).all()
    )
    names = _user_names(session, [e.actor_id for e in audit])

    def who(event: AuditEvent) -> str:
        return names.get(event.actor_id or 0) or event.actor_username

    events: list[TimelineEvent] = []
    for e in audit:
        at = _as_utc(e.occurred_at)
        on = at.date()
        before, after = _json(e.before), _json(e.after)
        if e.entity == "case" and e.action == "create":
            events.append(TimelineEvent(on, at, "referral", "Case registered", e.reason, who(e)))
        elif e.entity == "case" and e.field == "status":
            title = f"Status: {_status_label(before)} → {_status_label(after)}"
            events.append(TimelineEvent(on, at, "status", title, e.reason, who(e)))
        elif e.entity == "case" and e.field == "diagnostic_stage":
            title = (
                f"Diagnostic stage: {DIAGNOSTIC_STAGES.get(str(before), before)} → "
                f"{DIAGNOSTIC_STAGES.get(str(after), after)}"
            )
            events.append(TimelineEvent(on, at, "status", title, e.reason, who(e)))
        elif e.entity == "case" and e.field == "closing_reason" and after:
            title = f"Closed: {CLOSING_REASONS.get(str(after), after)}"
            events.append(TimelineEvent(on, at, "status", title, e.reason, who(e)))
        elif (
            e.entity == "investigation"
            and e.field == "status"
            and after in ("declined", "not_indicated")
        ):
            label = labels.get(e.entity_id or 0, "Investigation")
            title = f"{label}: {INVESTIGATION_STATUS_LABELS.get(str(after), after)}"
            events.append(TimelineEvent(on, at, "investigation", title, e.reason, who(e)))
        elif e.entity == "agenda_item" and e.action == "create" and isinstance(after, dict):
            meeting_date = meeting_dates.get(after.get("meeting_id"))
            when = f" of {meeting_date.isoformat()}" if meeting_date else ""
            events.append(
                TimelineEvent(
                    on,
                    at,
                    "meeting",
                    f"Put on the MDT agenda{when}",
                    after.get("question"),
                    who(e),
                )
            )
        elif e.entity == "agenda_item" and e.action == "delete":
            events.append(
                TimelineEvent(on, at, "meeting", "Taken off an MDT agenda", e.reason, who(e))
            )
    return events


def _meeting_events(agenda: Sequence[AgendaEntry], today: dt.date) -> list[TimelineEvent]:
    return [
        TimelineEvent(a.meeting_date, None, "meeting", f"Discussed at {a.title}", a.question)
        for a in agenda
        if a.meeting_date <= today
    ]


def _ecog_events(series: Sequence[EcogPoint]) -> list[TimelineEvent]:
    events = []
    for p in series:
        weight = f"; weight {p.weight_kg:g} kg" if p.weight_kg is not None else ""
        detail = f"{p.note}{weight}" if p.note else (weight.lstrip("; ") or None)
        events.append(TimelineEvent(p.observed_on, None, "ecog", f"ECOG {p.score}", detail))
    return events


def _build_timeline(
    session: Session,
    header: CaseHeader,
    workup_rows: Sequence[WorkupRow],
    findings: Findings,
    series: Sequence[EcogPoint],
    decision_rows: Sequence[DecisionRow],
    agenda: Sequence[AgendaEntry],
    today: dt.date,
) -> tuple[TimelineEvent, ...]:
    events = [
        TimelineEvent(header.referral_date, None, "referral", "Referral received"),
        TimelineEvent(
            header.pathway_start, None, "referral", "Pathway start (well-founded suspicion)"
        ),
        *_investigation_events(workup_rows, today),
        *_finding_events(findings),
        *_ecog_events(series),
        *_meeting_events(agenda, today),
        *_decision_events(decision_rows),
        *_audit_events(session, header.case_id, workup_rows),
    ]
    # Ties (same day, same kind, no time) keep the order they were added in, reversed.
    order = sorted(enumerate(events), key=lambda pair: (pair[1].sort_key, pair[0]), reverse=True)
    return tuple(event for _, event in order)


# ---------------------------------------------------------------------------------
# Public functions


def case_record(
    ctx: ServiceContext, case_id: int, today: dt.date | None = None, *, timeline: bool = True
) -> CaseRecord:
    """Everything about a case in one consistent read (the case page, meeting mode and
    the before-clinic summary). ``timeline=False`` leaves the timeline empty and skips
    the audit trail it is built from, for screens that do not show the history."""
    today = today or dt.date.today()
    with ctx.reading("view_cases") as session:
        header = _load_header(session, case_id, today)
        investigations = _investigations(session, [case_id])
        found = _load_findings(session, [case_id])[case_id]
        series = tuple(_load_ecog(session, [case_id]).get(case_id, ()))
        picture = _picture_of(header, found, series, investigations)
        workup_rows = _workup_rows(investigations, requirements_for(picture.profile))
        decision_rows = _load_decisions(session, case_id)
        agenda = _load_agenda(session, case_id)
        events = (
            _build_timeline(
                session, header, workup_rows, found, series, decision_rows, agenda, today
            )
            if timeline
            else ()
        )
        return CaseRecord(
            header=header,
            workup=workup_rows,
            findings=found,
            ecog=series,
            decisions=decision_rows,
            agenda=agenda,
            timeline=events,
            picture=picture,
        )


def case_header(ctx: ServiceContext, case_id: int, today: dt.date | None = None) -> CaseHeader:
    with ctx.reading("view_cases") as session:
        return _load_header(session, case_id, today or dt.date.today())


def case_profile(ctx: ServiceContext, case_id: int, today: dt.date | None = None) -> CaseProfile:
    """The guidance's view of one case (raises NotFoundError for an unknown case)."""
    profiles = case_profiles(ctx, [case_id], today)
    if case_id not in profiles:
        raise NotFoundError("case", case_id)
    return profiles[case_id]


def case_profiles(
    ctx: ServiceContext, case_ids: Sequence[int], today: dt.date | None = None
) -> dict[int, CaseProfile]:
    """Profiles of several cases (e.g. a queue page) in a fixed number of queries;
    unknown ids are simply absent from the result."""
    with ctx.reading("view_cases") as session:
        batch = load_profiles(session, list(dict.fromkeys(case_ids)), today or dt.date.today())
        return batch.profiles


def workup(
    ctx: ServiceContext,
    case_id: int,
    today: dt.date | None = None,
    *,
    profile: CaseProfile | None = None,
) -> list[WorkupRow]:
    """Every investigation of the case in catalogue order, with whether it is required
    for this presentation and missing before the MDT.

    What is required depends on the presentation and the findings, not on the workup's
    own statuses. A page that has read the case's ``profile`` already passes it: then
    only the investigations are read (one query), which is what a workup edit changes.
    """
    today = today or dt.date.today()
    with ctx.reading("view_cases") as session:
        investigations = _investigations(session, [case_id])
        if profile is None:
            statuses = {case_id: {i.code: i.status for i in investigations}}
            batch = load_profiles(session, [case_id], today, workup_statuses=statuses)
            profile = batch.profiles.get(case_id)
        elif not investigations and session.get(Case, case_id) is None:
            profile = None
        if profile is None:
            raise NotFoundError("case", case_id)
        return list(_workup_rows(investigations, requirements_for(profile)))


def workup_rows(
    investigations: Iterable[InvestigationRow], profile: CaseProfile
) -> list[WorkupRow]:
    """The workup as :func:`workup` returns it, from investigations already read (see
    ``services.workup.save_workup_edits``) and the case's profile."""
    return list(_workup_rows(investigations, requirements_for(profile)))


def findings(ctx: ServiceContext, case_id: int) -> Findings:
    with ctx.reading("view_cases") as session:
        return _load_findings(session, [case_id])[case_id]


def ecog_series(ctx: ServiceContext, case_id: int) -> list[EcogPoint]:
    """ECOG observations, oldest first."""
    with ctx.reading("view_cases") as session:
        return list(_load_ecog(session, [case_id]).get(case_id, ()))


def decisions(ctx: ServiceContext, case_id: int) -> list[DecisionRow]:
    """Every decision of the case, amendments and superseded ones included, newest first."""
    with ctx.reading("view_cases") as session:
        return list(_load_decisions(session, case_id))


def timeline(
    ctx: ServiceContext, case_id: int, today: dt.date | None = None
) -> list[TimelineEvent]:
    """Everything that happened to the case, newest first."""
    return list(case_record(ctx, case_id, today).timeline)
