"""The worklist read service and bulk changes, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest
from sqlalchemy import select

from cupboard import worklist as rules
from cupboard.db import unit_of_work
from cupboard.errors import PermissionDeniedError, ValidationError
from cupboard.models import (
    AgendaItem,
    CareReferral,
    Case,
    Decision,
    Investigation,
    MdtMeeting,
    Patient,
    User,
)
from cupboard.permissions import Actor
from cupboard.services import case_record
from cupboard.services.context import ServiceContext
from cupboard.services.worklist import (
    ALL_KINDS,
    bulk_mark_reviewed,
    bulk_update_investigations,
    worklist,
    worklist_page,
)
from cupboard.services.workup import update_investigation
from tests.support import investigation_updates
from tests.worklist.clinic import TODAY, ago, build_clinic, investigation, keys


def test_lists_exactly_the_overdue_items(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ids, expected = build_clinic(contexts, make_case)
    items = worklist(contexts["navigator"])
    assert keys(items) == expected
    assert [i.days_overdue for i in items] == sorted((i.days_overdue for i in items), reverse=True)
    assert items[0].kind == "pathway_clock" and items[0].days_overdue == 2
    mine = worklist(contexts["navigator"], mine=True)
    assert keys(mine) == {k for k in expected if k[1] == ids["mine"]}
    assert {i.navigator_name for i in mine} == {"Test Navigator"}
    # Every signed-in role may read it; a chair has no cases of their own here.
    assert keys(worklist(contexts["viewer"])) == expected
    assert worklist(contexts["chair"], mine=True) == []


def _oracle(database_url: str) -> list[rules.WorklistItem]:
    """The whole worklist the slow way: every row loaded, the same rules applied."""
    with unit_of_work(database_url) as session:
        upcoming = set(
            session.scalars(
                select(AgendaItem.case_id)
                .join(MdtMeeting, MdtMeeting.id == AgendaItem.meeting_id)
                .where(MdtMeeting.meeting_date >= TODAY)
            )
        )
        all_investigations = list(session.scalars(select(Investigation)))
        extended = {
            i.case_id
            for i in all_investigations
            if i.code in rules.EXTENDED_WORKUP_CODES
            and i.status in rules.USED_INVESTIGATION_STATUSES
        }
        names = {u: name for u, name in session.execute(select(User.id, User.display_name))}
        cases = [
            rules.CaseRow(
                c.id,
                p.pseudonym,
                c.status,
                c.pathway_start,
                c.navigator_id,
                names.get(c.navigator_id),  # type: ignore[arg-type]
                c.id in extended,
                c.id in upcoming,
            )
            for c, p in session.execute(select(Case, Patient).join(Patient))
        ]
        investigations = [
            rules.InvestigationRow(
                i.id,
                i.version,
                i.case_id,
                i.code,
                i.status,
                i.requested_on,
                i.booked_for,
                i.done_on,
                i.reported_on,
                i.reviewed_on,
            )
            for i in all_investigations
        ]
        decisions = [
            rules.DecisionRow(
                d.id,
                d.version,
                d.case_id,
                d.code,
                d.decided_on,
                d.treatment_started_on,
                d.follow_up_due,
                d.follow_up_done_on,
                d.superseded,
            )
            for d in session.scalars(select(Decision))
        ]
        referrals = [
            rules.ReferralRow(
                r.id, r.version, r.case_id, r.kind, r.status, r.requested_on, r.detail
            )
            for r in session.scalars(select(CareReferral))
        ]
        # Every case's suggested referrals, from its picture.
        batch = case_record.load_profiles(session, [c.case_id for c in cases], TODAY)
        prompted = [
            rules.PromptedReferral(case_id, p.code, p.reason)
            for case_id, profile in batch.profiles.items()
            for p in case_record.guidance_for(profile).referrals_to_consider
        ]
    return rules.build_worklist(
        cases, investigations, decisions, TODAY, referrals=referrals, prompted=prompted
    )


def test_the_sql_filter_loses_nothing_on_a_seeded_cohort(
    database_url: str, contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    """Against an oracle that loads every row and applies the same rules."""
    from db.demo_cohort import seed_demo_cohort

    build_clinic(contexts, make_case)
    seed_demo_cohort(database_url, cases=30)
    oracle = _oracle(database_url)
    served = worklist(contexts["navigator"])
    assert len(served) > 20
    assert [(i.key, i.days_overdue) for i in served] == [(i.key, i.days_overdue) for i in oracle]


def _head(items: list[rules.WorklistItem], kinds: tuple[str, ...], limit: int | None) -> list:
    chosen = [i for i in items if i.kind in kinds]
    return chosen if limit is None else chosen[:limit]


def test_a_page_is_the_head_of_the_whole_list_with_counts_from_sql(
    database_url: str, contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    """Each kind's query counts in SQL and returns only its most urgent rows: every
    page must still be exactly the first rows of the whole list, for any limit and
    any choice of kinds, and the counts those of the whole list."""
    from db.demo_cohort import seed_demo_cohort

    build_clinic(contexts, make_case)
    seed_demo_cohort(database_url, cases=30)
    oracle = _oracle(database_url)
    counts = rules.count_items(oracle)
    assert len({i.kind for i in oracle}) >= 5  # the cohort exercises most kinds
    nav = contexts["navigator"]
    some = ("booking_overdue", "follow_up_overdue", "pathway_clock")
    for kinds in (ALL_KINDS, some, ("result_not_reviewed",)):
        for limit in (1, 2, 5, 13, 40, None):
            page = worklist_page(nav, kinds=kinds, limit=limit, today=TODAY)
            expected = _head(oracle, kinds, limit)
            assert [i.key for i in page.items] == [i.key for i in expected], (kinds, limit)
            assert list(page.items) == expected
            assert page.by_kind == counts.by_kind
            assert page.total == sum(counts.by_kind[k] for k in kinds)
            assert page.overdue == sum(1 for i in oracle if i.kind in kinds and i.days_overdue > 0)
            assert page.has_more == (len(expected) < page.total)
    full = worklist_page(nav, limit=None, today=TODAY)
    assert full.counts == counts and not full.has_more
    # "My cases" pages and counts the navigator's own rows only.
    mine = worklist_page(nav, mine=True, limit=2, today=TODAY)
    own = [i for i in oracle if i.navigator_id == nav.actor.user_id]
    assert len(own) >= 3 and list(mine.items) == own[:2] and mine.total == len(own)


def test_a_limit_never_cuts_between_rows_the_rules_order_differently(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    """Two appointments of one case on the same day tie on every SQL sort column; the
    rules then order them by the item's key, a string, where investigation 10 comes
    before investigation 9. A page of one row must hold the rules' first."""
    nav = contexts["navigator"]
    case_id = make_case()
    ids = sorted(r.investigation_id for r in case_record.workup(nav, case_id))
    pair = next((a, b) for a, b in itertools.pairwise(ids) if str(b) < str(a))  # 9, 10
    for inv_id in pair:
        row = next(r for r in case_record.workup(nav, case_id) if r.investigation_id == inv_id)
        changes = {"status": "booked", "requested_on": ago(6), "booked_for": ago(3)}
        update_investigation(nav, inv_id, row.version, changes)
    whole = [i for i in worklist(nav) if i.kind == "booking_overdue"]
    assert [i.investigation_id for i in whole] == [pair[1], pair[0]]
    page = worklist_page(nav, kinds=("booking_overdue",), limit=1)
    assert [i.investigation_id for i in page.items] == [pair[1]]
    assert page.total == 2 and page.has_more


def test_a_page_refuses_unknown_kinds_and_empty_limits(
    contexts: dict[str, ServiceContext],
) -> None:
    with pytest.raises(ValidationError, match=r"^kinds: unknown kind\(s\): overdue"):
        worklist_page(contexts["navigator"], kinds=("overdue",))
    with pytest.raises(ValidationError, match=r"^limit: \(0\) must be at least 1"):
        worklist_page(contexts["navigator"], limit=0)
    stranger = Actor(None, "stranger", "Stranger", "no-such-role")
    with pytest.raises(PermissionDeniedError):
        worklist_page(ServiceContext(contexts["viewer"].database_url, stranger))


def test_bulk_status_change_updates_and_audits_each_row(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ids, _ = build_clinic(contexts, make_case)
    nav = contexts["navigator"]
    url = nav.database_url
    shown = {i.investigation_id: i for i in worklist(nav, mine=True) if i.investigation_id}
    rows = [(ids["ct"], shown[ids["ct"]].version), (ids["biopsy"], shown[ids["biopsy"]].version)]
    before = {inv_id: len(investigation_updates(url, inv_id)) for inv_id, _ in rows}

    result = bulk_update_investigations(nav, rows, {"status": "done"})

    assert result.ok and set(result.updated) == {ids["ct"], ids["biopsy"]}
    for inv_id, _ in rows:
        row = investigation(url, ids["mine"], "ct_cap" if inv_id == ids["ct"] else "biopsy")
        assert row.status == "done" and row.done_on == TODAY
        events = investigation_updates(url, inv_id)[before[inv_id] :]
        status_event = next(e for e in events if e.field == "status")
        assert json.loads(status_event.after) == "done"
        assert status_event.actor_username == "test-navigator"
    remaining = keys(worklist(nav, mine=True))
    assert ("request_not_booked", ids["mine"], ids["ct"]) not in remaining
    assert ("booking_overdue", ids["mine"], ids["biopsy"]) not in remaining


def test_a_stale_row_is_reported_by_name_and_the_others_apply(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ids, _ = build_clinic(contexts, make_case)
    nav, onc = contexts["navigator"], contexts["oncologist"]
    url = nav.database_url
    shown = {i.investigation_id: i for i in worklist(nav, mine=True) if i.investigation_id}
    # Someone else books the CT after the navigator opened the worklist.
    ct = investigation(url, ids["mine"], "ct_cap")
    update_investigation(onc, ct.id, ct.version, {"status": "booked", "booked_for": TODAY})
    rows = [(ids["ct"], shown[ids["ct"]].version), (ids["biopsy"], shown[ids["biopsy"]].version)]

    result = bulk_update_investigations(nav, rows, {"status": "declined"})

    assert result.updated == (ids["biopsy"],)
    [failure] = result.failures
    assert failure.investigation_id == ids["ct"]
    assert failure.row == "CUP-00001 · CT chest/abdomen/pelvis with contrast"
    assert failure.message.startswith("CUP-00001 · CT chest/abdomen/pelvis with contrast: Conflict")
    assert "test-oncologist changed status" in failure.message
    assert investigation(url, ids["mine"], "ct_cap").status == "booked"  # kept theirs
    assert investigation(url, ids["mine"], "biopsy").status == "declined"


def test_bulk_refusals_name_the_field_or_the_role(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ids, _ = build_clinic(contexts, make_case)
    url = contexts["navigator"].database_url
    ct = investigation(url, ids["mine"], "ct_cap")
    with pytest.raises(PermissionDeniedError):
        bulk_update_investigations(contexts["viewer"], [(ct.id, ct.version)], {"status": "done"})
    with pytest.raises(ValidationError, match=r"^status: must be one of"):
        bulk_update_investigations(contexts["navigator"], [(ct.id, ct.version)], {"status": "x"})
    with pytest.raises(ValidationError, match=r"^rows: "):
        bulk_update_investigations(contexts["navigator"], [], {"status": "done"})
    # Booking without a date fails per row, naming the row and the missing field.
    result = bulk_update_investigations(
        contexts["navigator"], [(ct.id, ct.version)], {"status": "booked"}
    )
    assert result.updated == ()
    assert "booked_for: give the appointment date" in result.failures[0].message
    assert investigation(url, ids["mine"], "ct_cap").version == ct.version


def test_bulk_mark_reviewed(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ids, _ = build_clinic(contexts, make_case)
    nav = contexts["navigator"]
    url = nav.database_url
    history = investigation(url, ids["mine"], "history_exam")
    ct = investigation(url, ids["mine"], "ct_cap")
    result = bulk_mark_reviewed(nav, [(history.id, history.version), (ct.id, ct.version)])
    assert result.updated == (history.id,)
    assert "status: only a reported result can be marked reviewed" in result.failures[0].message
    assert investigation(url, ids["mine"], "history_exam").reviewed_on == TODAY
    assert ("result_not_reviewed", ids["mine"], history.id) not in keys(worklist(nav))


def test_configured_lead_time_targets_apply(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    from cupboard.services.settings import get_lead_time_targets, set_lead_time_targets

    case_id = make_case(referral_date=ago(16))  # 12 days left of the SVF default of 28
    assert ("pathway_clock", case_id, None) not in keys(worklist(contexts["navigator"]))
    targets = get_lead_time_targets(contexts["admin"].database_url).as_dict()
    targets["drug_therapy"] = {"basic": 20, "extended": 40}
    set_lead_time_targets(contexts["admin"], targets, seen_version=0)
    [item] = [i for i in worklist(contexts["navigator"]) if i.case_id == case_id]
    assert item.kind == "pathway_clock" and item.days_overdue == -4
    assert "pathway day 16 of 20 (drug therapy, basic workup)" in item.detail
