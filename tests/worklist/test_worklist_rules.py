"""The worklist rules on hand-built rows: what is listed, in which order, and the edges."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cupboard.knowledge.pathway import LeadTime
from cupboard.worklist import (
    NEAR_TARGET_DAYS,
    REQUEST_NOT_BOOKED_DAYS,
    TREATMENT_START_DAYS,
    CaseRow,
    DecisionRow,
    InvestigationRow,
    WorklistPolicy,
    build_worklist,
    cutoffs,
    lead_time_target,
    rule_descriptions,
)

TODAY = dt.date(2025, 3, 10)


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def case(
    case_id: int, status: str = "workup_in_progress", start: int = 10, **kw: object
) -> CaseRow:
    return CaseRow(
        case_id=case_id,
        pseudonym=f"CUP-{case_id:05d}",
        status=status,
        pathway_start=ago(start),
        **kw,  # type: ignore[arg-type]
    )


def inv(
    inv_id: int, case_id: int, status: str, code: str = "ct_cap", **dates: object
) -> InvestigationRow:
    return InvestigationRow(inv_id, 1, case_id, code, status, **dates)  # type: ignore[arg-type]


def decision(dec_id: int, case_id: int, code: str, decided: int, **kw: object) -> DecisionRow:
    return DecisionRow(dec_id, 1, case_id, code, ago(decided), **kw)  # type: ignore[arg-type]


def keys(items: list) -> set[tuple[str, int, int | None]]:
    return {(i.kind, i.case_id, i.investigation_id or i.decision_id) for i in items}


# A constructed clinic: every rule has a row just inside and just outside it.
CASES = [
    case(1, navigator_id=7),
    case(2, start=30),  # undecided: drug-therapy basic target 28 -> 2 days past
    case(3, status="referred", start=23),  # 5 days left: near
    case(4, status="referred", start=22),  # 6 days left: not yet
    case(5, status="ready_for_mdt", start=12),  # not on an agenda
    case(6, status="ready_for_mdt", start=12, on_upcoming_agenda=True),
    case(7, status="decision_recorded", start=20),
    case(8, status="in_treatment", start=60),
    case(9, status="closed", start=200),
    case(10, start=30, extended_workup=True),  # drug therapy extended: 48 -> 18 left
    case(11, status="decision_recorded", start=40),  # best supportive care: clock stopped
]
INVESTIGATIONS = [
    inv(101, 1, "requested", requested_on=ago(REQUEST_NOT_BOOKED_DAYS + 1)),  # listed
    inv(102, 1, "requested", "psa", requested_on=ago(REQUEST_NOT_BOOKED_DAYS)),  # day N: not
    inv(103, 1, "booked", "biopsy", requested_on=ago(9), booked_for=ago(1)),  # listed
    inv(104, 1, "booked", "blood_panel", requested_on=ago(9), booked_for=TODAY),  # not
    inv(105, 1, "reported", "history_exam", reported_on=ago(3)),  # listed: not reviewed
    inv(106, 1, "reported", "histopathology_ihc", reported_on=ago(3), reviewed_on=ago(2)),
    inv(107, 1, "to_request", "ngs"),
    inv(108, 1, "done", "pet_ct", done_on=ago(4)),
    inv(109, 9, "booked", booked_for=ago(50)),  # closed case: nothing
]
DECISIONS = [
    # Decided 15 days ago, no start: one day past the 14-day mark.
    decision(201, 7, "site_specific", TREATMENT_START_DAYS + 1),
    # Decided 14 days ago: on the mark, not yet chased; follow-up due yesterday.
    decision(202, 8, "empiric_platinum_taxane", TREATMENT_START_DAYS, follow_up_due=ago(1)),
    # An amended decision no longer counts.
    decision(203, 8, "site_specific", 40, follow_up_due=ago(30), superseded=True),
    decision(204, 11, "best_supportive_care", 20),
    decision(205, 9, "site_specific", 100, follow_up_due=ago(60)),  # closed case
]
EXPECTED = {
    ("request_not_booked", 1, 101),
    ("booking_overdue", 1, 103),
    ("result_not_reviewed", 1, 105),
    ("pathway_clock", 2, None),
    ("pathway_clock", 3, None),
    ("not_on_agenda", 5, None),
    ("treatment_not_started", 7, 201),
    ("follow_up_overdue", 8, 202),
}


def test_lists_exactly_the_items_needing_action() -> None:
    items = build_worklist(CASES, INVESTIGATIONS, DECISIONS, TODAY)
    assert keys(items) == EXPECTED


def test_days_overdue_and_details() -> None:
    items = {
        (i.kind, i.case_id): i for i in build_worklist(CASES, INVESTIGATIONS, DECISIONS, TODAY)
    }
    assert items["request_not_booked", 1].days_overdue == 1
    assert items["request_not_booked", 1].what == "CT chest/abdomen/pelvis with contrast"
    assert items["booking_overdue", 1].days_overdue == 1
    assert items["result_not_reviewed", 1].days_overdue == 3
    assert items["pathway_clock", 2].days_overdue == 2
    assert items["pathway_clock", 2].detail == (
        "pathway day 30 of 28 (drug therapy, basic workup): 2 days past target"
    )
    assert items["pathway_clock", 3].days_overdue == -NEAR_TARGET_DAYS
    assert items["pathway_clock", 3].detail.endswith("5 days left")
    assert items["not_on_agenda", 5].days_overdue == 0
    assert items["treatment_not_started", 7].days_overdue == 1
    assert items["follow_up_overdue", 8].days_overdue == 1
    assert items["request_not_booked", 1].navigator_id == 7
    assert items["request_not_booked", 1].version == 1


def test_urgency_order_days_overdue_then_pathway_clock() -> None:
    items = build_worklist(CASES, INVESTIGATIONS, DECISIONS, TODAY)
    order = [(i.kind, i.case_id) for i in items]
    assert order == [
        ("result_not_reviewed", 1),  # 3 days
        ("pathway_clock", 2),  # 2 days
        ("follow_up_overdue", 8),  # 1 day, pathway day 60
        ("treatment_not_started", 7),  # 1 day, pathway day 20
        ("request_not_booked", 1),  # 1 day, pathway day 10
        ("booking_overdue", 1),  # 1 day, pathway day 10, kind order
        ("not_on_agenda", 5),  # due now
        ("pathway_clock", 3),  # 5 days left
    ]
    overdue = [i.days_overdue for i in items]
    assert overdue == sorted(overdue, reverse=True)


@pytest.mark.parametrize(
    ("days_ago", "listed"),
    [
        (REQUEST_NOT_BOOKED_DAYS - 1, False),
        (REQUEST_NOT_BOOKED_DAYS, False),
        (REQUEST_NOT_BOOKED_DAYS + 1, True),
    ],
)
def test_request_boundary(days_ago: int, listed: bool) -> None:
    rows = [inv(1, 1, "requested", requested_on=ago(days_ago))]
    assert bool(build_worklist([case(1, start=2)], rows, [], TODAY)) is listed


@pytest.mark.parametrize(("booked_for", "listed"), [(TODAY, False), (ago(1), True)])
def test_booking_boundary(booked_for: dt.date, listed: bool) -> None:
    rows = [inv(1, 1, "booked", requested_on=ago(5), booked_for=booked_for)]
    assert bool(build_worklist([case(1, start=2)], rows, [], TODAY)) is listed


@pytest.mark.parametrize(
    ("start", "listed", "overdue"),
    [
        (28 - NEAR_TARGET_DAYS - 1, False, None),
        (28 - NEAR_TARGET_DAYS, True, -5),
        (28, True, 0),
        (29, True, 1),
    ],
)
def test_pathway_clock_boundary(start: int, listed: bool, overdue: int | None) -> None:
    items = build_worklist([case(1, start=start)], [], [], TODAY)
    assert bool(items) is listed
    if listed:
        assert items[0].kind == "pathway_clock" and items[0].days_overdue == overdue


@pytest.mark.parametrize(
    ("decided", "listed"), [(TREATMENT_START_DAYS, False), (TREATMENT_START_DAYS + 1, True)]
)
def test_treatment_start_boundary(decided: int, listed: bool) -> None:
    rows = [decision(1, 1, "targeted_therapy", decided)]
    items = build_worklist([case(1, "in_treatment", start=decided + 10)], [], rows, TODAY)
    assert bool(items) is listed


@pytest.mark.parametrize(("due", "listed"), [(TODAY, False), (ago(1), True)])
def test_follow_up_boundary(due: dt.date, listed: bool) -> None:
    rows = [decision(1, 1, "best_supportive_care", 30, follow_up_due=due)]
    items = build_worklist([case(1, "in_treatment", start=40)], [], rows, TODAY)
    assert bool(items) is listed


def test_follow_up_done_is_not_listed() -> None:
    rows = [
        decision(
            1,
            1,
            "site_specific",
            30,
            follow_up_due=ago(3),
            follow_up_done_on=ago(2),
            treatment_started_on=ago(25),
        )
    ]
    assert build_worklist([case(1, "in_treatment", start=40)], [], rows, TODAY) == []


def test_a_started_treatment_stops_the_clock() -> None:
    rows = [decision(1, 1, "site_specific", 20, treatment_started_on=ago(10))]
    assert build_worklist([case(1, "decision_recorded", start=90)], [], rows, TODAY) == []


def test_lead_time_follows_the_decided_treatment_and_the_workup() -> None:
    local = [decision(1, 1, "local_therapy", 2)]
    assert lead_time_target(case(1), local, WorklistPolicy())[0] == 35  # radiotherapy
    assert lead_time_target(case(1, extended_workup=True), local, WorklistPolicy())[0] == 55
    assert lead_time_target(case(1), [], WorklistPolicy())[0] == 28  # drug therapy expected
    workup = [decision(1, 1, "further_workup", 2)]
    assert lead_time_target(case(1), workup, WorklistPolicy())[0] == 28


def test_configured_targets_and_thresholds_are_used() -> None:
    policy = WorklistPolicy(
        request_not_booked_days=2,
        lead_times=(LeadTime("drug_therapy", 14, 30), *WorklistPolicy().lead_times[1:]),
    )
    rows = [inv(1, 1, "requested", requested_on=ago(3))]
    items = build_worklist([case(1, start=9)], rows, [], TODAY, policy)
    assert keys(items) == {("request_not_booked", 1, 1), ("pathway_clock", 1, None)}
    assert "more than 2 days ago" in dict(rule_descriptions(policy))["Requested, not booked"]


# The service filters candidates in SQL with these cut-offs: they must agree with the rules.
@given(st.integers(min_value=-5, max_value=60))
def test_sql_cutoffs_agree_with_the_rules(days_ago: int) -> None:
    cut = cutoffs(TODAY, WorklistPolicy())
    day = ago(days_ago)
    requested = build_worklist(
        [case(1, start=0)], [inv(1, 1, "requested", requested_on=day)], [], TODAY
    )
    assert bool(requested) is (day < cut.requested_before)
    booked = build_worklist([case(1, start=0)], [inv(1, 1, "booked", booked_for=day)], [], TODAY)
    assert bool(booked) is (day < cut.booked_before)
    clock = build_worklist([case(1, start=days_ago)], [], [], TODAY)
    if clock:  # the SQL filter may pass more cases than the rules list, never fewer
        assert day <= cut.pathway_started_on_or_before
    started = build_worklist(
        [case(1, "in_treatment", start=0)], [], [decision(1, 1, "site_specific", days_ago)], TODAY
    )
    assert bool(started) is (day < cut.decided_before)
