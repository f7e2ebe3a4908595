"""A constructed clinic for the worklist tests: for every rule, a row just inside and
one just outside it, built through the services with explicit dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select

from cupboard import worklist as rules
from cupboard.db import unit_of_work
from cupboard.models import Case, Investigation
from cupboard.services.cases import update_case
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.services.workup import mark_reviewed, update_investigation

TODAY = dt.date.today()


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def investigation(url: str, case_id: int, code: str) -> Investigation:
    with unit_of_work(url) as session:
        row = session.scalar(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == code
            )
        )
        assert row is not None
        return row


def set_investigation(ctx: ServiceContext, case_id: int, code: str, **changes: object) -> int:
    row = investigation(ctx.database_url, case_id, code)
    update_investigation(ctx, row.id, row.version, changes)
    return row.id


def case_version(url: str, case_id: int) -> int:
    with unit_of_work(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.version


def keys(items: list[rules.WorklistItem]) -> set[tuple[str, int, int | None]]:
    return {(i.kind, i.case_id, i.investigation_id or i.decision_id) for i in items}


def build_clinic(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> tuple[dict[str, int], set[tuple[str, int, int | None]]]:
    """Cases with an item just inside and just outside each rule; returns ids and the
    items that must be listed."""
    nav, onc = contexts["navigator"], contexts["oncologist"]
    url = nav.database_url
    ids: dict[str, int] = {}
    expected: set[tuple[str, int, int | None]] = set()

    mine = make_case(navigator_id=nav.actor.user_id, name="Åsa Öberg")
    ids["mine"] = mine
    n = rules.REQUEST_NOT_BOOKED_DAYS
    ids["ct"] = set_investigation(nav, mine, "ct_cap", status="requested", requested_on=ago(n + 1))
    set_investigation(nav, mine, "blood_panel", status="requested", requested_on=ago(n))
    ids["biopsy"] = set_investigation(
        nav, mine, "biopsy", status="booked", requested_on=ago(8), booked_for=ago(1)
    )
    set_investigation(
        nav, mine, "mammography", status="booked", requested_on=ago(8), booked_for=TODAY
    )
    ids["history"] = set_investigation(
        nav, mine, "history_exam", status="reported", reported_on=ago(2), done_on=ago(3)
    )
    reviewed = set_investigation(
        nav, mine, "histopathology_ihc", status="reported", reported_on=ago(2), done_on=ago(4)
    )
    row = investigation(url, mine, "histopathology_ihc")
    mark_reviewed(onc, reviewed, row.version)
    expected |= {
        ("request_not_booked", mine, ids["ct"]),
        ("booking_overdue", mine, ids["biopsy"]),
        ("result_not_reviewed", mine, ids["history"]),
    }

    # Undecided, 30 days on the pathway: 2 days past the drug-therapy target of 28.
    late = make_case(referral_date=ago(30))
    near = make_case(referral_date=ago(23))  # 5 days left
    make_case(referral_date=ago(22))  # 6 days left: not listed
    expected |= {("pathway_clock", late, None), ("pathway_clock", near, None)}

    ready = make_case()
    update_case(nav, ready, case_version(url, ready), {"status": "ready_for_mdt"})
    scheduled = make_case()
    update_case(nav, scheduled, case_version(url, scheduled), {"status": "ready_for_mdt"})
    past_only = make_case()
    update_case(nav, past_only, case_version(url, past_only), {"status": "ready_for_mdt"})
    upcoming = create_meeting(nav, meeting_date=TODAY + dt.timedelta(days=1))
    past = create_meeting(nav, meeting_date=ago(7))
    add_to_agenda(nav, upcoming, scheduled)
    add_to_agenda(nav, past, past_only)
    expected |= {("not_on_agenda", ready, None), ("not_on_agenda", past_only, None)}

    decided = make_case(referral_date=ago(21))
    ids["decision"] = record_decision(
        onc,
        decided,
        DecisionDraft(
            code="site_specific",
            presumed_primary="lung",
            rationale="TTF-1 positive adenocarcinoma",
            decided_on=ago(rules.TREATMENT_START_DAYS + 2),
            follow_up_due=ago(1),
        ),
    )
    expected |= {
        ("treatment_not_started", decided, ids["decision"]),
        ("follow_up_overdue", decided, ids["decision"]),
    }

    closed = make_case(referral_date=ago(60))
    set_investigation(nav, closed, "ct_cap", status="requested", requested_on=ago(20))
    update_case(
        nav,
        closed,
        case_version(url, closed),
        {"status": "closed", "closing_reason": "transferred"},
    )
    return ids, expected
