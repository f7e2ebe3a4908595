"""Hypothesis at the service boundary: whatever a form, import or script sends, the
stored data stays consistent, and every refusal is a CupboardError whose message
starts with the field it is about, with nothing written.

Most examples are a valid record with at most one field replaced by something
hostile: a valid record must be accepted, and a refused one must name the field
that was spoiled (or the field a cross-field rule is about).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.errors import CupboardError, ValidationError
from cupboard.knowledge.decisions import DECISION_CODES, DISCIPLINES
from cupboard.knowledge.investigations import INVESTIGATION_STATUS_CODES, INVESTIGATIONS
from cupboard.knowledge.markers import IHC_MARKERS, IHC_RESULTS, canonical_ihc_marker
from cupboard.knowledge.sites import METASTATIC_SITES, PRIMARY_SITES
from cupboard.models import (
    AuditEvent,
    Base,
    Case,
    Decision,
    EcogObservation,
    IhcResult,
    Investigation,
    PathologyReport,
)
from cupboard.services.cases import Referral, register_referral
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.findings import IhcEntry, add_pathology_report
from cupboard.services.performance import record_ecog
from cupboard.services.workup import (
    EDITABLE_FIELDS,
    check_investigation_dates,
    update_investigation,
)
from tests.support import investigation_updates

TODAY = dt.date.today()
_MRNS = itertools.count(1)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    # One database per test, shared by its examples: each example compares the
    # database with a snapshot taken just before it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# What a form, an import file or a script might send instead of a good value.
NASTY_TEXT = st.sampled_from(
    [
        "",
        "   ",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        "a\x00b",
        "tab\tand\nnewline",
        "x\x1by",
        "Ωmega ≥ 5 – café",
        "e\u0301",  # decomposed: stored NFC
        "'; DROP TABLE cases; --",
    ]
)
LONG_TEXT = st.integers(min_value=100, max_value=10_100).map(lambda n: "y" * n)
TEXTISH = st.one_of(st.none(), st.text(max_size=40), NASTY_TEXT, LONG_TEXT)
RECENT = st.dates(min_value=TODAY - dt.timedelta(days=800), max_value=TODAY)
DATEISH = st.one_of(
    st.none(),
    st.dates(),
    RECENT.map(dt.date.isoformat),
    st.sampled_from(["2024-02-30", "yesterday", "", "20240101", " 2024-01-05 "]),
    st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(2200, 1, 1)),
)
JUNK = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
HOSTILE = st.one_of(TEXTISH, DATEISH, JUNK)


# Plain text a person types: any printable characters, tabs and line breaks included.
TYPED = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f")
    | st.sampled_from("\t\n"),
    max_size=40,
)


def spoiled(
    valid: Mapping[str, st.SearchStrategy[Any]],
    hostile: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[tuple[dict[str, Any], str | None]]:
    """A valid record, and (about half the time) one field replaced by a hostile
    value (``hostile[field]`` or HOSTILE). Returns the record and the name of the
    spoiled field (None: all valid)."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[dict[str, Any], str | None]:
        record = {name: draw(strategy) for name, strategy in valid.items()}
        field = draw(st.one_of(st.none(), st.sampled_from(sorted(valid))))
        if field is not None:
            record[field] = draw((hostile or {}).get(field, HOSTILE))
        return record, field

    return build()


def _snapshot(url: str) -> dict[str, Any]:
    """Every row of every table (the audit trail included), to prove nothing changed."""
    with unit_of_work(url) as session:
        return {
            table.name: sorted(
                (tuple(map(repr, row)) for row in session.execute(select(table))), key=repr
            )
            for table in Base.metadata.sorted_tables
        }


def _count(url: str, model: type[Base]) -> int:
    with unit_of_work(url) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _field_root(field: str) -> str:
    return re.split(r"[\[.]", field)[0]


def _attempt(url: str, call: Callable[[], object], fields: set[str]) -> ValidationError | None:
    """Run ``call``. On refusal check that it is a CupboardError naming one of
    ``fields`` in one line and that nothing at all was written, and return it.
    Any other exception fails the test (a crash at the boundary is a bug)."""
    before = _snapshot(url)
    try:
        call()
    except CupboardError as error:
        assert isinstance(error, ValidationError), f"{type(error).__name__}: {error}"
        assert _field_root(error.field) in fields, f"{error.field!r} is not an input: {error}"
        assert str(error).startswith(f"{error.field}:"), str(error)
        assert "\n" not in str(error)
        assert _snapshot(url) == before, "a refused call changed the database"
        return error
    return None


def _check_blame(error: ValidationError | None, field: str | None, related: set[str]) -> None:
    """A valid record is accepted; a refused one blames the spoiled field or a field
    a cross-field rule ties to it."""
    if error is None:
        return
    assert field is not None, f"a valid record was refused: {error}"
    assert _field_root(error.field) in {field, *related}, f"spoiled {field}, blamed {error}"


def _clean_text(value: object, limit: int) -> None:
    if value is not None:
        assert isinstance(value, str) and value == value.strip() and value
        assert not CONTROL.search(value) and len(value) <= limit


# --- update_investigation ----------------------------------------------------------

INVESTIGATION_VALUES = st.one_of(
    st.sampled_from(INVESTIGATION_STATUS_CODES), RECENT, st.none(), st.text(max_size=30), HOSTILE
)
INVESTIGATION_CHANGES = st.dictionaries(
    # Fields that may not be changed sit mid-list: Hypothesis favours the ends.
    st.sampled_from(
        [*EDITABLE_FIELDS[:3], "code", *EDITABLE_FIELDS[3:6], "case_id", *EDITABLE_FIELDS[6:]]
    ),
    INVESTIGATION_VALUES,
    max_size=3,
)
INVESTIGATION_COLUMNS = (*EDITABLE_FIELDS, "code", "case_id", "reviewed_by_id")


def _investigation(url: str, investigation_id: int) -> dict[str, Any]:
    with unit_of_work(url) as session:
        row = session.get(Investigation, investigation_id)
        assert row is not None
        return {c: getattr(row, c) for c in (*INVESTIGATION_COLUMNS, "version")}


def test_update_investigation_never_corrupts_the_workup(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["navigator"]
    url = ctx.database_url
    case_id = make_case()
    with unit_of_work(url) as session:
        investigation_id = session.scalar(
            select(Investigation.id).where(
                Investigation.case_id == case_id, Investigation.code == "biopsy"
            )
        )
    assert investigation_id is not None

    @FUZZ
    @given(changes=INVESTIGATION_CHANGES)
    def check(changes: dict[str, Any]) -> None:
        before = _investigation(url, investigation_id)
        audit_before = len(investigation_updates(url, investigation_id))
        result: dict[str, tuple[Any, Any]] = {}

        def call() -> None:
            result.update(
                update_investigation(ctx, investigation_id, before["version"], changes, TODAY)
            )

        # Date-order rules may blame a date the user did not touch in this change.
        if _attempt(url, call, set(changes) | set(EDITABLE_FIELDS)) is not None:
            return
        after = _investigation(url, investigation_id)
        for column in INVESTIGATION_COLUMNS:
            expected = result[column][1] if column in result else before[column]
            assert after[column] == expected, column
        assert after["version"] == before["version"] + (1 if result else 0)
        audit = investigation_updates(url, investigation_id)
        assert len(audit) == audit_before + len(result)
        assert {e.field for e in audit[audit_before:]} == set(result)
        assert after["status"] in INVESTIGATION_STATUS_CODES
        check_investigation_dates(after)  # dates still in the order of events
        for field in ("requested_on", "done_on", "reported_on"):
            assert after[field] is None or after[field] <= TODAY
        _clean_text(after["result_text"], 10_000)
        _clean_text(after["responsible"], 120)

    check()


# --- record_ecog -------------------------------------------------------------------

ECOG = {
    "score": st.integers(min_value=0, max_value=5),
    "observed_on": RECENT,
    "weight_kg": st.one_of(st.none(), st.floats(min_value=1, max_value=400)),
    "note": st.one_of(st.none(), TYPED),
}


def test_record_ecog_stores_exactly_what_was_valid(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["oncologist"]
    url = ctx.database_url
    case_id = make_case()

    @FUZZ
    @given(example=spoiled(ECOG))
    def check(example: tuple[dict[str, Any], str | None]) -> None:
        values, field = example
        count = _count(url, EcogObservation)
        ids: list[int] = []
        error = _attempt(
            url,
            lambda: ids.append(record_ecog(ctx, case_id, **values, today=TODAY)),
            {"ecog", "observed_on", "weight_kg", "note"},
        )
        # The score's field is named for the scale: "ecog".
        _check_blame(error, "ecog" if field == "score" else field, set())
        if error is not None:
            return
        assert _count(url, EcogObservation) == count + 1
        with unit_of_work(url) as session:
            row = session.get(EcogObservation, ids[0])
            assert row is not None
            score = values["score"]
            assert isinstance(score, int) and row.score == score and 0 <= score <= 5
            assert row.observed_on <= TODAY and row.case_id == case_id
            assert row.weight_kg is None or 1 <= row.weight_kg <= 400
            _clean_text(row.note, 10_000)
            created = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "ecog_observation", AuditEvent.entity_id == row.id
                )
            ).all()
            assert [e.action for e in created] == ["create"]

    check()


# --- add_pathology_report with an IHC panel ------------------------------------------

MARKER_NAMES = st.one_of(
    st.sampled_from([m.name for m in IHC_MARKERS]),
    st.sampled_from([m.name.lower().replace("-", "") for m in IHC_MARKERS]),
)
IHC_ENTRY = {
    "marker": MARKER_NAMES,
    "result": st.sampled_from(IHC_RESULTS),
    "percentage": st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
}


@st.composite
def panels(draw: st.DrawFn) -> tuple[list[IhcEntry], bool]:
    """An IHC panel of distinct markers, sometimes with one entry spoiled."""
    entries = draw(st.lists(spoiled(IHC_ENTRY), max_size=4))
    panel = [IhcEntry(**values) for values, _ in entries]
    return panel, any(field is not None for _, field in entries)


def test_pathology_report_keeps_a_panel_whole_or_not_at_all(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["pathologist"]
    url = ctx.database_url
    case_id = make_case()

    @FUZZ
    @given(
        example=panels(),
        report=spoiled(
            {
                "histology": st.sampled_from(["adenocarcinoma", "melanoma"]),
                "comment": st.one_of(st.none(), TYPED),
            }
        ),
    )
    def check(
        example: tuple[list[IhcEntry], bool], report: tuple[dict[str, Any], str | None]
    ) -> None:
        panel, panel_spoiled = example
        values, field = report
        reports, stains = _count(url, PathologyReport), _count(url, IhcResult)
        ids: list[int] = []
        error = _attempt(
            url,
            lambda: ids.append(
                add_pathology_report(
                    ctx, case_id, reported_on=TODAY, ihc=panel, today=TODAY, **values
                )
            ),
            {"histology", "comment", "ihc"},
        )
        names = [
            canonical_ihc_marker(e.marker) if isinstance(e.marker, str) else None for e in panel
        ]
        known_names = [n for n in names if n is not None]
        duplicated = len(set(known_names)) != len(known_names)
        if error is not None:
            panel_blamed = {"ihc"} if (panel_spoiled or duplicated) else set()
            if field is None:
                assert panel_blamed, f"a valid report was refused: {error}"
                assert _field_root(error.field) == "ihc", str(error)
            else:
                _check_blame(error, field, panel_blamed)
            return
        assert not duplicated, "a panel listing a marker twice was accepted"
        assert _count(url, PathologyReport) == reports + 1
        assert _count(url, IhcResult) == stains + len(panel)
        with unit_of_work(url) as session:
            rows = session.scalars(
                select(IhcResult).where(IhcResult.pathology_report_id == ids[0])
            ).all()
        known = {m.name for m in IHC_MARKERS}
        assert len({r.marker for r in rows}) == len(rows) == len(panel)
        for row in rows:
            assert row.marker in known and row.result in IHC_RESULTS
            assert row.percentage is None or 0 <= row.percentage <= 100

    check()


# --- record_decision ----------------------------------------------------------------

ATTENDEE = st.fixed_dictionaries(
    {"name": st.sampled_from(["Dr A", "Nurse B"]), "discipline": st.sampled_from(list(DISCIPLINES))}
)
DRAFT = {
    "code": st.sampled_from(DECISION_CODES),
    "rationale": st.sampled_from(["Board consensus after review", "ECOG 3; patient's wish"]),
    "decided_on": RECENT,
    # Each kind names what it is about; a valid draft gives every detail.
    "presumed_primary": st.sampled_from(list(PRIMARY_SITES)),
    "regimen": st.just("carboplatin + paclitaxel"),
    "biomarker": st.just("MSI-H"),
    "alteration": st.just("NTRK fusion"),
    "target_site": st.just("left adrenal"),
    "workup_requested": st.just("PET-CT"),
    "plan": st.one_of(st.none(), TYPED),
    "ecog_at_decision": st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
    "attendees": st.lists(ATTENDEE, max_size=3),
    "follow_up_due": st.one_of(st.none(), RECENT),
}
# Lists holding hostile values, or a hostile value instead of the list.
HOSTILE_ATTENDEES = st.one_of(
    st.lists(
        st.fixed_dictionaries({"name": HOSTILE, "discipline": HOSTILE}), min_size=1, max_size=2
    ),
    st.lists(HOSTILE, min_size=1, max_size=2),
    HOSTILE,
)
# A spoiled detail may be reported as "required for <kind>" under the same name.
DRAFT_FIELDS = {*DRAFT, "meeting_id", "local_modality", "chair_id"}


def test_record_decision_stores_a_whole_valid_decision_or_nothing(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["chair"]
    url = ctx.database_url

    @FUZZ
    @given(example=spoiled(DRAFT, {"attendees": HOSTILE_ATTENDEES}))
    def check(example: tuple[dict[str, Any], str | None]) -> None:
        values, field = example
        # A case of its own: a case has one current decision per day outside a meeting.
        case_id = make_case()
        count = _count(url, Decision)
        ids: list[int] = []
        error = _attempt(
            url,
            lambda: ids.append(record_decision(ctx, case_id, DecisionDraft(**values), TODAY)),
            DRAFT_FIELDS,
        )
        _check_blame(error, field, set())
        if error is not None:
            return
        assert _count(url, Decision) == count + 1
        with unit_of_work(url) as session:
            decision = session.get(Decision, ids[0])
            case = session.get(Case, case_id)
            assert decision is not None and case is not None
            assert decision.code in DECISION_CODES and decision.decided_on <= TODAY
            _clean_text(decision.rationale, 10_000)
            _clean_text(decision.plan, 10_000)
            assert decision.superseded is False and decision.decided_by_id == ctx.actor.user_id
            assert all(a["discipline"] in DISCIPLINES for a in decision.attendees)
            assert case.status == "decision_recorded"

    check()


# --- register_referral ----------------------------------------------------------------

REFERRAL = {
    # Drawn fresh each time (Hypothesis replays values, and an MRN is unique).
    "mrn": st.builds(lambda: f"F{next(_MRNS):08d}"),
    "name": st.text(alphabet="abcdé -", min_size=1, max_size=30).filter(str.strip),
    "sex": st.sampled_from(["female", "male"]),
    "date_of_birth": st.dates(
        min_value=dt.date(1900, 1, 1), max_value=TODAY - dt.timedelta(days=6600)
    ),
    "referral_date": RECENT,
    "phone": st.sampled_from([None, "+46 8 123 45 67", "070-123 45 67"]),
    "presentation": st.one_of(st.none(), TYPED),
    "metastatic_sites": st.lists(st.sampled_from(list(METASTATIC_SITES)), max_size=4).map(tuple),
    "lesion_count": st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
}
HOSTILE_SITES = st.one_of(st.lists(HOSTILE, min_size=1, max_size=2).map(tuple), HOSTILE)


def test_register_referral_creates_a_whole_case_or_nothing(
    contexts: dict[str, ServiceContext], database_url: str
) -> None:
    ctx = contexts["navigator"]

    @FUZZ
    @given(example=spoiled(REFERRAL, {"metastatic_sites": HOSTILE_SITES}))
    def check(example: tuple[dict[str, Any], str | None]) -> None:
        values, field = example
        cases = _count(database_url, Case)
        investigations = _count(database_url, Investigation)
        ids: list[int] = []
        error = _attempt(
            database_url,
            lambda: ids.append(register_referral(ctx, Referral(**values), TODAY)),
            set(REFERRAL) | {"pathway_start", "referrer_name", "referrer_phone", "bone_pattern"},
        )
        # A spoiled birth date can make the referral date the one out of order.
        related = {"referral_date"} if field == "date_of_birth" else set()
        _check_blame(error, field, related)
        if error is not None:
            return
        assert _count(database_url, Case) == cases + 1
        added = _count(database_url, Investigation) - investigations
        with unit_of_work(database_url) as session:
            case = session.get(Case, ids[0])
            assert case is not None
            assert added == len(case.investigations) == len(INVESTIGATIONS)
            patient = case.patient
            assert patient.sex in ("female", "male") and patient.date_of_birth <= TODAY
            assert case.referral_date <= TODAY and case.pathway_start <= TODAY
            assert set(case.metastatic_sites) <= set(METASTATIC_SITES)
            _clean_text(patient.name, 200)
            _clean_text(case.presentation, 10_000)

    check()


@pytest.mark.parametrize("value", ["<script>alert(1)</script>", "e\u0301"])
def test_text_is_stored_as_typed_apart_from_normalisation(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], value: str
) -> None:
    """Markup is stored verbatim (it is shown as text, never stripped or escaped in
    the database); Unicode is stored composed (NFC) so that searches match."""
    ctx = contexts["oncologist"]
    ecog_id = record_ecog(ctx, make_case(), score=1, observed_on=TODAY, note=value)
    with unit_of_work(ctx.database_url) as session:
        row = session.get(EcogObservation, ecog_id)
        assert row is not None
        assert row.note == ("é" if value == "e\u0301" else value)


# --- regressions: bugs the fuzzing found -------------------------------------------


@pytest.mark.parametrize("attendees", [None, 5, "Dr A", ["Dr A"]])
def test_attendees_that_are_not_a_list_of_records_are_refused_naming_the_field(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], attendees: object
) -> None:
    ctx = contexts["chair"]
    draft = DecisionDraft(
        code="clinical_trial",
        rationale="eligible",
        decided_on=TODAY,
        attendees=attendees,  # type: ignore[arg-type]
    )
    case_id = make_case()
    with pytest.raises(ValidationError, match=r"^attendees"):
        record_decision(ctx, case_id, draft, TODAY)


@pytest.mark.parametrize("sites", [None, 5])
def test_metastatic_sites_that_are_not_a_list_are_refused_naming_the_field(
    contexts: dict[str, ServiceContext], sites: object
) -> None:
    referral = Referral(
        mrn="F-SITES",
        name="Sites Probe",
        sex="female",
        date_of_birth=dt.date(1960, 1, 1),
        referral_date=TODAY,
        metastatic_sites=sites,  # type: ignore[arg-type]
    )
    with pytest.raises(ValidationError, match=r"^metastatic_sites:"):
        register_referral(contexts["navigator"], referral, TODAY)
