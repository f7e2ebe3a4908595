"""Two people record the decision for one case at one meeting, in two browsers
(issue 14 point 2). Before: both were told "Decision recorded", the case had two
current decisions and the GP letter listed both."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select

from tests.browser.conftest import AppServer, choose, sign_in, wait_for_app

EXCEPTION = '[data-testid="stException"]'


def _undecided_queued_case(url: str) -> tuple[int, int]:
    """A case on the next meeting's agenda with no decision: (case id, meeting id)."""
    from cupboard.db import unit_of_work
    from cupboard.models import AgendaItem, Decision, MdtMeeting

    with unit_of_work(url) as session:
        decided = select(Decision.case_id)
        row = session.execute(
            select(AgendaItem.case_id, AgendaItem.meeting_id)
            .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
            .where(AgendaItem.case_id.not_in(decided))
            .order_by(MdtMeeting.meeting_date, AgendaItem.position)
            .limit(1)
        ).one()
        return row[0], row[1]


def _open_decision_form(page: object, server: AppServer, user: str, case_id: int) -> None:
    page.goto(f"{server.base_url}/case?case_id={case_id}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, user)
    page.get_by_role("tab", name="Decision").click()  # type: ignore[attr-defined]
    wait_for_app(page)


def _choose(page: object, case_id: int, option: str, rationale: str) -> None:
    choose(page, page.locator(f".st-key-case_{case_id}_code"), re.compile(f"{option}$"))  # type: ignore[attr-defined]
    page.get_by_label("Rationale (required)").first.fill(rationale)  # type: ignore[attr-defined]


def test_chair_and_oncologist_both_decide_and_the_second_is_told_what_the_first_decided(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    case_id, meeting_id = _undecided_queued_case(server.database_url)
    chair, oncologist = page_factory(), page_factory()  # two browser contexts
    _open_decision_form(chair, server, "demo-chair", case_id)
    _open_decision_form(oncologist, server, "demo-oncologist", case_id)
    # Both forms are open on the undecided case before either saves.
    _choose(chair, case_id, "Best supportive care", "Frail; prefers comfort care.")
    _choose(oncologist, case_id, "Clinical trial", "Eligible for the CUP trial.")

    chair.get_by_role("button", name="Record decision").first.click()  # type: ignore[attr-defined]
    wait_for_app(chair)
    chair.get_by_text("Decision recorded: Best supportive care.").wait_for()  # type: ignore[attr-defined]

    oncologist.get_by_role("button", name="Record decision").first.click()  # type: ignore[attr-defined]
    wait_for_app(oncologist)
    refusal = oncologist.locator('[data-testid="stAlertContentError"]').filter(  # type: ignore[attr-defined]
        has_text="Conflict"
    )
    refusal.wait_for()
    message = refusal.inner_text()
    assert "Dr Demo Chair (MDT chair) recorded the decision for this case at this meeting" in (
        message
    )
    assert "Best supportive care" in message and "Nothing of yours was saved" in message
    assert oncologist.get_by_text("Decision recorded: Clinical trial.").count() == 0  # type: ignore[attr-defined]
    for page in (chair, oncologist):
        assert page.locator(EXCEPTION).count() == 0  # type: ignore[attr-defined]

    from cupboard.db import unit_of_work
    from cupboard.models import Decision
    from cupboard.permissions import SYSTEM_ACTOR
    from cupboard.services.clinic_summary import clinic_summary
    from cupboard.services.context import ServiceContext

    with unit_of_work(server.database_url) as session:
        current = session.execute(
            select(Decision.code, Decision.meeting_id).where(
                Decision.case_id == case_id, Decision.superseded.is_(False)
            )
        ).all()
    assert [tuple(row) for row in current] == [("best_supportive_care", meeting_id)]
    letter = clinic_summary(ServiceContext(server.database_url, SYSTEM_ACTOR), case_id).letter
    assert [d.label for d in letter.decisions] == ["Best supportive care"]
