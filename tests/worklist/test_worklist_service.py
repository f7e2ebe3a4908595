"""The worklist read service and bulk changes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import select

from cupboard import worklist as rules
from cupboard.db import unit_of_work
from cupboard.errors import PermissionDeniedError, ValidationError
from cupboard.models import (
    AgendaItem,
    AuditEvent,
    Case,
    Decision,
    Investigation,
    MdtMeeting,
    Patient,
)
from cupboard.services.context import ServiceContext
from cupboard.services.worklist import bulk_mark_reviewed, bulk_update_investigations, worklist
from cupboard.services.workup import update_investigation
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


def test_the_sql_filter_loses_nothing_on_a_seeded_cohort(
    database_url: str, contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    """Against an oracle that loads every row and applies the same rules."""
    from db.demo_cohort import seed_demo_cohort

    build_clinic(contexts, make_case)
    seed_demo_cohort(database_url, cases=30)
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
        cases = [
            rules.CaseRow(
                c.id,
                p.pseudonym,
                c.status,
                c.pathway_start,
                c.navigator_id,
                None,
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
    oracle = rules.build_worklist(cases, investigations, decisions, TODAY)
    served = worklist(contexts["navigator"])
    assert len(served) > 20
    assert [(i.key, i.days_overdue) for i in served] == [(i.key, i.days_overdue) for i in oracle]


def _events(url: str, investigation_id: int) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "investigation",
                    AuditEvent.entity_id == investigation_id,
                    AuditEvent.action == "update",
                )
            )
        )


def test_bulk_status_change_updates_and_audits_each_row(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ids, _ = build_clinic(contexts, make_case)
    nav = contexts["navigator"]
    url = nav.database_url
    shown = {i.investigation_id: i for i in worklist(nav, mine=True) if i.investigation_id}
    rows = [(ids["ct"], shown[ids["ct"]].version), (ids["biopsy"], shown[ids["biopsy"]].version)]
    before = {inv_id: len(_events(url, inv_id)) for inv_id, _ in rows}

    result = bulk_update_investigations(nav, rows, {"status": "done"})

    assert result.ok and set(result.updated) == {ids["ct"], ids["biopsy"]}
    for inv_id, _ in rows:
        row = investigation(url, ids["mine"], "ct_cap" if inv_id == ids["ct"] else "biopsy")
        assert row.status == "done" and row.done_on == TODAY
        events = _events(url, inv_id)[before[inv_id] :]
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
