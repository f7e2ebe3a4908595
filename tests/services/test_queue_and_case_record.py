"""The queue's rows and the case record's read models, on constructed cases (both DBs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from cupboard.db import get_engine, unit_of_work
from cupboard.errors import NotFoundError, PermissionDeniedError, ValidationError
from cupboard.knowledge.investigations import INVESTIGATIONS
from cupboard.models import Investigation, User
from cupboard.services import case_record, queue
from cupboard.services.cases import update_case
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.findings import (
    IhcEntry,
    MolecularFindings,
    add_ihc_results,
    add_molecular_report,
    add_pathology_report,
    add_serum_marker,
)
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.services.performance import record_ecog
from cupboard.services.queue import QueueFilter
from cupboard.services.workup import update_investigation

TODAY = dt.date.today()


def _set_status(ctx: ServiceContext, case_id: int, code: str, status: str, **extra: object) -> None:
    with unit_of_work(ctx.database_url) as session:
        row = session.scalar(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == code
            )
        )
        assert row is not None
        investigation_id, version = row.id, row.version
    update_investigation(ctx, investigation_id, version, {"status": status, **extra})


def _user_id(url: str, username: str) -> int:
    with unit_of_work(url) as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        assert user_id is not None
        return user_id


def _ready(ctx: ServiceContext, case_id: int) -> None:
    header = case_record.case_header(ctx, case_id)
    update_case(ctx, case_id, header.version, {"status": "ready_for_mdt"})


@contextmanager
def _count_queries(url: str) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


# ---------------------------------------------------------------------------------
# The queue


def test_agenda_rows_count_workup_and_pick_the_latest_ecog_by_date(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator, oncologist = contexts["navigator"], contexts["oncologist"]
    woman = make_case(sex="female", sites=("liver", "bone"))
    man = make_case(sex="male", sites=("bone",))
    _set_status(navigator, woman, "ct_cap", "reported")
    _set_status(navigator, woman, "biopsy", "declined")
    _set_status(navigator, woman, "mammography", "not_indicated")
    _set_status(navigator, woman, "blood_panel", "booked", booked_for=TODAY)
    # Entered out of order: the later observation is recorded first.
    record_ecog(oncologist, woman, score=2, observed_on=TODAY - dt.timedelta(days=1))
    record_ecog(oncologist, woman, score=0, observed_on=TODAY - dt.timedelta(days=9))
    meeting = create_meeting(navigator, meeting_date=TODAY + dt.timedelta(days=3))
    add_to_agenda(navigator, meeting, man, question="Fit for chemotherapy?")
    add_to_agenda(navigator, meeting, woman)

    rows = queue.meeting_queue(navigator, meeting)

    assert [r.case_id for r in rows] == [man, woman]
    assert [r.position for r in rows] == [1, 2]
    assert rows[0].question == "Fit for chemotherapy?"
    woman_row = rows[1]
    applies_to_women = [i.code for i in INVESTIGATIONS if i.applies_to in ("all", "female")]
    # ct_cap and biopsy are finished with; her bone metastases add the myeloma screen
    # [SVF block A]; mammography, marked not indicated, is required for a woman and is
    # to request again once her ECOG is recorded (the workup follows the record).
    assert woman_row.workup_total == len(applies_to_women) + 1
    assert woman_row.workup_done == 2
    assert woman_row.workup_label == f"2/{len(applies_to_women) + 1}"
    assert set(woman_row.outstanding) == (
        set(applies_to_women) - {"ct_cap", "biopsy"} | {"myeloma_screen"}
    )
    assert "blood_panel" in woman_row.outstanding  # booked is still outstanding
    assert (woman_row.ecog, woman_row.ecog_on) == (2, TODAY - dt.timedelta(days=1))
    assert rows[0].ecog is None and rows[0].ecog_on is None
    assert (
        woman_row.sex == "female" and woman_row.age == case_record.case_header(navigator, woman).age
    )
    assert "CUP-" in woman_row.pseudonym
    # The guidance's missing workup is a subset of what is still outstanding.
    assert set(woman_row.missing_before_mdt) <= set(woman_row.outstanding)
    assert "ct_cap" not in woman_row.missing_before_mdt


def test_queue_filters_by_status_navigator_oncologist_and_search(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], database_url: str
) -> None:
    navigator = contexts["navigator"]
    nurse_id = _user_id(database_url, "test-navigator")
    doctor_id = _user_id(database_url, "test-oncologist")
    mine = make_case(name="Alva Lindqvist", mrn="MRN-ALVA", navigator_id=nurse_id)
    theirs = make_case(name="Bo Berg", mrn="MRN-BO", oncologist_id=doctor_id)
    _ready(navigator, theirs)
    meeting = create_meeting(navigator, meeting_date=TODAY)
    add_to_agenda(navigator, meeting, mine)
    add_to_agenda(navigator, meeting, theirs)

    def ids(**filters: object) -> list[int]:
        return [r.case_id for r in queue.meeting_queue(navigator, meeting, QueueFilter(**filters))]

    assert ids() == [mine, theirs]
    assert ids(statuses=("ready_for_mdt",)) == [theirs]
    assert ids(statuses=("referred", "ready_for_mdt")) == [mine, theirs]
    assert ids(navigator_id=nurse_id) == [mine]
    assert ids(oncologist_id=doctor_id) == [theirs]
    assert ids(search="lindQVIST") == [mine]
    assert ids(search="mrn-bo") == [theirs]
    pseudonym = queue.meeting_queue(navigator, meeting)[1].pseudonym
    assert ids(search=pseudonym.lower()) == [theirs]
    assert ids(search="%") == []  # LIKE wildcards are matched literally
    with pytest.raises(ValidationError, match=r"^status"):
        ids(statuses=("nonsense",))


def test_ready_not_queued_lists_ready_cases_on_no_upcoming_meeting(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator = contexts["navigator"]
    waiting, queued, discussed, referred = (make_case() for _ in range(4))
    for case_id in (waiting, queued, discussed):
        _ready(navigator, case_id)
    upcoming = create_meeting(navigator, meeting_date=TODAY + dt.timedelta(days=7))
    past = create_meeting(navigator, meeting_date=TODAY - dt.timedelta(days=7))
    add_to_agenda(navigator, upcoming, queued)
    add_to_agenda(navigator, past, discussed)  # back to "ready" after the last meeting

    page = queue.ready_not_queued(navigator)
    assert {r.case_id for r in page.rows} == {waiting, discussed}
    assert page.total == 2
    assert all(r.agenda_item_id is None and r.status == "ready_for_mdt" for r in page.rows)
    assert referred not in {r.case_id for r in page.rows}

    first = queue.ready_not_queued(navigator, limit=1)
    assert len(first.rows) == 1 and first.total == 2

    add_to_agenda(navigator, upcoming, waiting)
    assert {r.case_id for r in queue.ready_not_queued(navigator).rows} == {discussed}


def test_queue_reads_a_fixed_number_of_queries_whatever_the_agenda_size(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], database_url: str
) -> None:
    navigator, oncologist = contexts["navigator"], contexts["oncologist"]
    small = create_meeting(navigator, meeting_date=TODAY)
    large = create_meeting(navigator, meeting_date=TODAY + dt.timedelta(days=1))
    for n in range(6):
        case_id = make_case()
        record_ecog(oncologist, case_id, score=n % 4, observed_on=TODAY)
        add_serum_marker(oncologist, case_id, marker="LDH", value=300, measured_on=TODAY)
        add_to_agenda(navigator, small if n < 2 else large, case_id)

    with _count_queries(database_url) as few:
        assert len(queue.meeting_queue(navigator, small)) == 2
    with _count_queries(database_url) as many:
        assert len(queue.meeting_queue(navigator, large)) == 4
    assert len(few) == len(many)


def test_queue_flags_a_favourable_subtype(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator, pathologist = contexts["navigator"], contexts["pathologist"]
    axillary = make_case(sex="female", sites=("axillary_nodes",))
    unfavourable = make_case(sex="male", sites=("liver", "bone"))
    for case_id in (axillary, unfavourable):
        add_pathology_report(
            pathologist,
            case_id,
            histology="adenocarcinoma",
            reported_on=TODAY,
            ihc=[IhcEntry("GATA3", "positive"), IhcEntry("ER", "positive")],
        )
    meeting = create_meeting(navigator, meeting_date=TODAY)
    add_to_agenda(navigator, meeting, axillary)
    add_to_agenda(navigator, meeting, unfavourable)

    rows = {r.case_id: r for r in queue.meeting_queue(navigator, meeting)}
    assert rows[axillary].favourable_subtype == "axillary_nodes_women"
    assert rows[axillary].favourable_label == "breast cancer"
    assert rows[unfavourable].favourable_subtype is None


def test_meetings_lists_upcoming_with_agenda_size_and_a_deep_linked_past_one(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator = contexts["navigator"]
    past = create_meeting(navigator, meeting_date=TODAY - dt.timedelta(days=14))
    later = create_meeting(navigator, meeting_date=TODAY + dt.timedelta(days=14))
    sooner = create_meeting(navigator, meeting_date=TODAY + dt.timedelta(days=2))
    add_to_agenda(navigator, sooner, make_case())
    options = queue.meetings(navigator)
    assert [m.id for m in options] == [sooner, later]
    assert [m.cases for m in options] == [1, 0]
    assert queue.next_meeting_id(options, TODAY) == sooner
    with_past = queue.meetings(navigator, include=past)
    assert [m.id for m in with_past] == [past, sooner, later]
    assert queue.next_meeting_id([with_past[0]], TODAY) == past
    assert queue.next_meeting_id([], TODAY) is None
    with pytest.raises(NotFoundError):
        queue.meeting_queue(navigator, 9999)


# ---------------------------------------------------------------------------------
# The case record


def test_case_profile_reads_the_latest_of_each_finding(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    oncologist, navigator = contexts["oncologist"], contexts["navigator"]
    case_id = make_case(sex="male", date_of_birth=dt.date(1958, 1, 1), sites=("bone",))
    earlier, later = TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=2)
    add_pathology_report(
        oncologist,
        case_id,
        histology="poorly_differentiated_carcinoma",
        reported_on=earlier,
        ihc=[IhcEntry("CK7", "positive"), IhcEntry("PSA", "negative")],
    )
    add_pathology_report(oncologist, case_id, histology="adenocarcinoma", reported_on=later)
    add_ihc_results(oncologist, case_id, [IhcEntry("CK7", "negative")], later)
    add_serum_marker(oncologist, case_id, marker="PSA", value=4.0, measured_on=earlier)
    add_serum_marker(oncologist, case_id, marker="psa", value=88.5, measured_on=later)
    add_serum_marker(
        oncologist, case_id, marker="LDH", value=400, upper_limit_normal=250, measured_on=later
    )
    add_serum_marker(oncologist, case_id, marker="CEA", value=3, measured_on=later)
    add_molecular_report(
        oncologist, case_id, MolecularFindings(reported_on=earlier, msi_status="MSI-H", tmb=30)
    )
    add_molecular_report(
        oncologist,
        case_id,
        MolecularFindings(reported_on=later, msi_status="MSS", tmb=4.5, alterations=("KRAS G12D",)),
    )
    record_ecog(oncologist, case_id, score=1, observed_on=later)
    record_ecog(oncologist, case_id, score=3, observed_on=earlier)
    _set_status(navigator, case_id, "psa", "reported")

    profile = case_record.case_profile(oncologist, case_id)

    assert profile.sex == "male"
    assert profile.age == case_record.case_header(oncologist, case_id).age
    assert profile.sites == ("bone",)
    assert profile.histology == "adenocarcinoma"
    assert profile.ihc == {"CK7": "negative", "PSA": "negative"}
    assert profile.serum == {"PSA": 88.5, "LDH": "raised", "CEA": 3.0}
    assert (profile.msi, profile.tmb, profile.alterations) == ("MSS", 4.5, ("KRAS G12D",))
    assert profile.ecog == 1
    assert profile.workup["psa"] == "reported"
    assert profile.workup["ct_cap"] == "to_request"
    assert len(profile.workup) == len(INVESTIGATIONS)
    # The batch reader agrees with the single one and skips unknown ids.
    assert case_record.case_profiles(oncologist, [case_id, 9999]) == {case_id: profile}
    with pytest.raises(NotFoundError):
        case_record.case_profile(oncologist, 9999)


def test_ldh_without_an_upper_limit_is_left_out_of_the_profile(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    oncologist = contexts["oncologist"]
    case_id = make_case()
    add_serum_marker(oncologist, case_id, marker="LDH", value=900, measured_on=TODAY)
    assert "LDH" not in case_record.case_profile(oncologist, case_id).serum
    add_serum_marker(
        oncologist, case_id, marker="LDH", value=180, upper_limit_normal=250, measured_on=TODAY
    )
    assert case_record.case_profile(oncologist, case_id).serum["LDH"] == "normal"


def test_workup_rows_flag_what_is_missing_before_the_mdt(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator = contexts["navigator"]
    case_id = make_case(sex="female", sites=("liver",))
    rows = {r.code: r for r in case_record.workup(navigator, case_id)}
    assert list(rows) == [i.code for i in INVESTIGATIONS]  # catalogue order
    assert rows["ct_cap"].required and rows["ct_cap"].missing_before_mdt
    assert rows["ct_cap"].label == "CT chest/abdomen/pelvis with contrast"
    assert not rows["psa"].required and not rows["psa"].missing_before_mdt  # a woman
    _set_status(navigator, case_id, "ct_cap", "reported", result_text="No primary seen")
    after = {r.code: r for r in case_record.workup(navigator, case_id)}
    assert not after["ct_cap"].missing_before_mdt and after["ct_cap"].required
    assert after["ct_cap"].result_text == "No primary seen"
    assert after["ct_cap"].reported_on == TODAY
    assert after["ct_cap"].version == rows["ct_cap"].version + 1
    record = case_record.case_record(navigator, case_id)
    assert record.workup_done == 1
    assert record.workup_total == sum(1 for r in record.workup if r.status != "not_indicated")
    assert "ct_cap" not in {r.code for r in record.missing_before_mdt}


def test_timeline_tells_the_story_newest_first_with_who_did_what(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator, chair = contexts["navigator"], contexts["chair"]
    case_id = make_case(referral_date=TODAY - dt.timedelta(days=30))
    _set_status(navigator, case_id, "ct_cap", "reported", result_text="Liver lesions")
    _set_status(navigator, case_id, "mri_brain", "declined")
    record_ecog(chair, case_id, score=1, observed_on=TODAY - dt.timedelta(days=5), weight_kg=71)
    add_pathology_report(
        chair,
        case_id,
        histology="adenocarcinoma",
        reported_on=TODAY - dt.timedelta(days=3),
        ihc=[IhcEntry("CK7", "positive"), IhcEntry("CK20", "negative")],
    )
    _ready(navigator, case_id)
    meeting = create_meeting(navigator, meeting_date=TODAY)
    add_to_agenda(navigator, meeting, case_id, question="Primary site?")
    record_decision(
        chair,
        case_id,
        DecisionDraft(
            code="empiric_platinum_taxane",
            regimen="carboplatin + paclitaxel",
            rationale="Unfavourable CUP, fit",
            decided_on=TODAY,
            meeting_id=meeting,
        ),
    )

    events = case_record.timeline(navigator, case_id)
    titles = [e.title for e in events]
    assert [e.sort_key for e in events] == sorted((e.sort_key for e in events), reverse=True)
    assert events[-1].title == "Referral received"
    assert "CT chest/abdomen/pelvis with contrast reported" in titles
    assert "MRI brain: Declined" in titles
    assert "ECOG 1" in titles
    assert "Histopathology" in titles
    assert "MDT decision: Empiric platinum–taxane" in titles
    assert "Discussed at CUP MDT" in titles
    status = [e for e in events if e.kind == "status"]
    assert [e.title for e in status] == [
        "Status: Ready for MDT → Decision recorded",
        "Status: Referred → Ready for MDT",
    ]
    assert [e.by for e in status] == ["Test Chair", "Test Navigator"]
    by_title = {e.title: e for e in events}
    assert by_title["CT chest/abdomen/pelvis with contrast reported"].detail == "Liver lesions"
    assert by_title["IHC"].detail == "CK7+, CK20−"
    assert by_title["ECOG 1"].detail == "weight 71 kg"
    assert "carboplatin + paclitaxel" in (
        by_title["MDT decision: Empiric platinum–taxane"].detail or ""
    )
    agenda = [e for e in events if e.title.startswith("Put on the MDT agenda")]
    assert len(agenda) == 1 and agenda[0].detail == "Primary site?"
    assert agenda[0].by == "Test Navigator"
    # The decision is the newest event of its day, after the ECOG five days before.
    assert titles.index("MDT decision: Empiric platinum–taxane") < titles.index("ECOG 1")


def test_case_record_reads_decisions_newest_first_and_the_agenda(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator, chair = contexts["navigator"], contexts["chair"]
    case_id = make_case()
    meeting = create_meeting(
        navigator,
        meeting_date=TODAY,
        attendees=[{"name": "Dr P", "discipline": "pathology"}],
    )
    add_to_agenda(navigator, meeting, case_id)
    for day, code, detail in (
        (TODAY - dt.timedelta(days=10), "further_workup", {"workup_requested": "PET-CT"}),
        (TODAY, "best_supportive_care", {}),
    ):
        record_decision(
            chair,
            case_id,
            DecisionDraft(code=code, rationale="r", decided_on=day, ecog_at_decision=2, **detail),
        )
    record = case_record.case_record(chair, case_id)
    assert [d.code for d in record.decisions] == ["best_supportive_care", "further_workup"]
    assert record.decisions[1].detail == "Workup: PET-CT"
    assert record.decisions[0].decided_by == "Test Chair"
    assert [(a.meeting_id, a.position) for a in record.agenda] == [(meeting, 1)]
    assert record.agenda[0].attendees == ({"name": "Dr P", "discipline": "pathology"},)
    assert record.header.status == "decision_recorded"


def _tables_read(statements: list[str]) -> set[str]:
    """The tables the statements read from (FROM and JOIN clauses)."""
    import re

    return {
        name for statement in statements for name in re.findall(r"(?:FROM|JOIN)\s+(\w+)", statement)
    }


def test_case_record_without_timeline_skips_the_audit_trail(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], database_url: str
) -> None:
    chair = contexts["chair"]
    case_id = make_case()
    record_ecog(chair, case_id, score=2, observed_on=TODAY)
    with _count_queries(database_url) as statements:
        light = case_record.case_record(chair, case_id, timeline=False)
    assert light.timeline == ()
    assert "audit_events" not in _tables_read(statements)
    with _count_queries(database_url) as statements:
        full = case_record.case_record(chair, case_id)
    assert "audit_events" in _tables_read(statements)
    assert "Case registered" in {e.title for e in full.timeline}
    # Everything else is the same read.
    assert (light.header, light.workup, light.findings, light.ecog) == (
        full.header,
        full.workup,
        full.findings,
        full.ecog,
    )
    assert light.profile == full.profile == case_record.case_profile(chair, case_id)


def test_workup_with_the_pages_profile_reads_the_investigations_alone(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], database_url: str
) -> None:
    navigator, pathologist = contexts["navigator"], contexts["pathologist"]
    case_id = make_case(sex="male", sites=("cervical_nodes",))
    add_pathology_report(
        pathologist, case_id, histology="squamous_cell_carcinoma", reported_on=TODAY
    )
    profile = case_record.case_profile(navigator, case_id)
    _set_status(navigator, case_id, "ct_cap", "reported")  # the workup moves on
    with _count_queries(database_url) as statements:
        light = case_record.workup(navigator, case_id, profile=profile)
    # The account check (users) and the investigations, nothing of the case's picture.
    assert _tables_read(statements) == {"users", "investigations"}
    assert light == case_record.workup(navigator, case_id)  # what the full read says
    assert {r.code: r.status for r in light}["ct_cap"] == "reported"
    assert any(r.required and r.code != "ct_cap" for r in light)
    with pytest.raises(NotFoundError):
        case_record.workup(navigator, 9999, profile=profile)


def test_guidance_is_computed_once_per_profile(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    from cupboard.guidance import assess_case

    navigator = contexts["navigator"]
    case_id = make_case(sex="female", sites=("axillary_nodes",))
    first = case_record.case_profile(navigator, case_id)
    again = case_record.case_profile(navigator, case_id)
    assert first is not again and first == again  # read twice: equal values
    assert case_record.guidance_for(first) is case_record.guidance_for(again)
    assert case_record.guidance_for(first) == assess_case(first)
    # A changed case is a different profile, so a different answer.
    record_ecog(contexts["oncologist"], case_id, score=3, observed_on=TODAY)
    changed = case_record.case_profile(navigator, case_id)
    assert changed != first
    assert case_record.guidance_for(changed) == assess_case(changed)
    assert case_record.requirements_for(changed) == assess_case(changed).required_workup


def test_reads_need_view_permission_and_an_existing_case(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    viewer = contexts["viewer"]
    assert case_record.case_record(viewer, case_id).header.case_id == case_id
    outsider = ServiceContext(viewer.database_url, viewer.actor.__class__(None, "x", "X", "nobody"))
    with pytest.raises(PermissionDeniedError):
        case_record.case_record(outsider, case_id)
    with pytest.raises(PermissionDeniedError):
        queue.ready_not_queued(outsider)
    with pytest.raises(NotFoundError):
        case_record.case_record(viewer, 9999)
