"""Referrals on the navigator worklist (issue 21): a referral requested and not accepted
after REFERRAL_OVERDUE_DAYS, and a referral the guidance suggested that nobody made by
the time the board decided. Pure rules first, then the service on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cupboard import worklist as rules
from cupboard.knowledge.referrals import REFERRAL_OVERDUE_DAYS, REFERRAL_PROMPT_DAYS
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.performance import record_ecog
from cupboard.services.referrals import ReferralDraft, move_referral, request_referrals
from cupboard.services.worklist import worklist, worklist_page
from tests.worklist.test_worklist_service import _oracle

TODAY = dt.date(2026, 6, 15)
# In treatment: the pathway clock has stopped, so only referral items can show.
CASE = rules.CaseRow(1, "CUP-00001", "in_treatment", TODAY - dt.timedelta(days=40))
DECISION = rules.DecisionRow(7, 1, 1, "clinical_trial", TODAY - dt.timedelta(days=3))
PALLIATIVE = rules.PromptedReferral(1, "palliative_care", "ECOG 2: palliative care early")


def referral(
    days_ago: int, status: str = "requested", kind: str = "dietitian"
) -> rules.ReferralRow:
    return rules.ReferralRow(5, 2, 1, kind, status, TODAY - dt.timedelta(days=days_ago))


def kinds(items: list[rules.WorklistItem]) -> list[str]:
    return [i.kind for i in items]


def test_a_referral_still_requested_after_the_days_allowed_is_chased() -> None:
    late = REFERRAL_OVERDUE_DAYS + 1
    [item] = rules.build_worklist([CASE], [], [], TODAY, referrals=[referral(late)])
    assert (item.kind, item.what, item.referral_id, item.version) == (
        "referral_not_accepted",
        "Dietitian",
        5,
        2,
    )
    assert item.days_overdue == 1
    assert f"not accepted after {REFERRAL_OVERDUE_DAYS} days" in item.detail


def test_a_referral_within_the_days_allowed_or_moved_on_is_not() -> None:
    on_time = rules.build_worklist(
        [CASE], [], [], TODAY, referrals=[referral(REFERRAL_OVERDUE_DAYS)]
    )
    assert on_time == []
    for status in ("accepted", "seen", "closed", "declined_by_patient"):
        moved = referral(REFERRAL_OVERDUE_DAYS + 30, status)
        assert rules.build_worklist([CASE], [], [], TODAY, referrals=[moved]) == []


def test_a_suggested_referral_not_made_after_the_decision_is_listed() -> None:
    [item] = rules.build_worklist([CASE], [], [DECISION], TODAY, prompted=[PALLIATIVE])
    assert (item.kind, item.what, item.due_on) == (
        "referral_not_made",
        "Palliative care",
        DECISION.decided_on,
    )
    assert "ECOG 2" in item.detail and item.days_overdue == 3


def test_a_suggestion_is_not_listed_before_a_decision_or_once_a_referral_is_made() -> None:
    assert rules.build_worklist([CASE], [], [], TODAY, prompted=[PALLIATIVE]) == []
    superseded = rules.DecisionRow(7, 1, 1, "clinical_trial", TODAY, superseded=True)
    assert rules.build_worklist([CASE], [], [superseded], TODAY, prompted=[PALLIATIVE]) == []
    # Made, even if the patient then declined it: the suggestion was acted on.
    declined = referral(2, "declined_by_patient", "palliative_care")
    items = rules.build_worklist(
        [CASE], [], [DECISION], TODAY, referrals=[declined], prompted=[PALLIATIVE]
    )
    assert items == []
    closed = rules.CaseRow(1, "CUP-00001", "closed", CASE.pathway_start)
    assert rules.build_worklist([closed], [], [DECISION], TODAY, prompted=[PALLIATIVE]) == []


def test_a_suggestion_is_chased_for_the_days_allowed_after_the_latest_decision() -> None:
    def decided(days_ago: int) -> rules.DecisionRow:
        return rules.DecisionRow(7, 1, 1, "clinical_trial", TODAY - dt.timedelta(days=days_ago))

    still = rules.build_worklist(
        [CASE], [], [decided(REFERRAL_PROMPT_DAYS)], TODAY, prompted=[PALLIATIVE]
    )
    assert kinds(still) == ["referral_not_made"]
    gone = rules.build_worklist(
        [CASE], [], [decided(REFERRAL_PROMPT_DAYS + 1)], TODAY, prompted=[PALLIATIVE]
    )
    assert gone == []


def test_two_suggestions_for_one_case_are_two_items() -> None:
    genetics = rules.PromptedReferral(1, "clinical_genetics", "MSI-H")
    items = rules.build_worklist([CASE], [], [DECISION], TODAY, prompted=[PALLIATIVE, genetics])
    assert sorted(i.what for i in items) == [
        "Clinical genetics / germline testing",
        "Palliative care",
    ]
    assert len({i.key for i in items}) == 2


def test_the_service_lists_both_kinds_as_the_rules_do(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    today = dt.date.today()
    oncologist, navigator = contexts["oncologist"], contexts["navigator"]
    case_id = make_case()
    record_ecog(oncologist, case_id, score=2, observed_on=today)
    record_decision(
        oncologist,
        case_id,
        DecisionDraft(code="clinical_trial", rationale="fit enough", decided_on=today),
    )

    def referral_items() -> list[tuple[str, str]]:
        return [
            (i.kind, i.what)
            for i in worklist(navigator)
            if i.kind in ("referral_not_accepted", "referral_not_made") and i.case_id == case_id
        ]

    assert referral_items() == [("referral_not_made", "Palliative care")]
    [referral_id] = request_referrals(
        oncologist,
        case_id,
        [ReferralDraft("palliative_care", "ECOG 2")],
        requested_on=today - dt.timedelta(days=REFERRAL_OVERDUE_DAYS + 2),
    )
    assert referral_items() == [("referral_not_accepted", "Palliative care")]
    page = worklist_page(navigator, kinds=("referral_not_accepted",), limit=1)
    assert page.by_kind["referral_not_accepted"] == 1 and page.overdue == 1
    assert [(i.kind, i.referral_id) for i in page.items] == [("referral_not_accepted", referral_id)]
    move_referral(navigator, referral_id, "accepted", 1)
    assert referral_items() == []


def test_the_sql_filter_loses_no_referral_item(
    database_url: str, contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    """Against the oracle that loads every row (tests/worklist/test_worklist_service.py)."""
    from db.demo_cohort import seed_demo_cohort

    seed_demo_cohort(database_url, cases=30)
    today = dt.date.today()
    for days, case_id in ((REFERRAL_OVERDUE_DAYS + 5, 3), (2, 4), (REFERRAL_OVERDUE_DAYS + 1, 5)):
        request_referrals(
            contexts["oncologist"],
            case_id,
            [ReferralDraft("palliative_care", "early palliative care")],
            requested_on=today - dt.timedelta(days=days),
        )
    served = worklist(contexts["navigator"])
    oracle = _oracle(database_url)
    assert [(i.key, i.days_overdue) for i in served] == [(i.key, i.days_overdue) for i in oracle]
    found = {i.kind for i in served}
    assert {"referral_not_accepted", "referral_not_made"} <= found
