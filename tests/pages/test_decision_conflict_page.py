"""The case page's decision form carries the decisions it showed (issue 14 point 2):
a decision someone else recorded for the same meeting meanwhile is a conflict that
says what they decided, not a second current decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import Decision
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.ui.text import escape_markdown

TODAY = dt.date.today()


def test_a_decision_saved_after_someone_else_decided_the_same_meeting_is_refused(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
    database_url: str,
) -> None:
    case_id = make_case()
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    add_to_agenda(contexts["navigator"], meeting, case_id)
    app = open_page("pages/case.py", role="chair", query={"case_id": str(case_id)})
    app.session_state[f"case_tabs_{case_id}"] = "Decision"
    app.run()
    app.selectbox(key=f"case_{case_id}_code").set_value("best_supportive_care").run()
    form_key = f"case_{case_id}_form_best_supportive_care_0"
    assert app.selectbox(key=f"{form_key}_meeting").value == meeting
    app.text_area(key=f"{form_key}_rationale").input("Frail; prefers comfort care.")

    # Meanwhile the oncologist records the board's decision for the same meeting.
    record_decision(
        contexts["oncologist"],
        case_id,
        DecisionDraft(
            "empiric_platinum_taxane",
            "Fit, unfavourable CUP",
            TODAY,
            meeting,
            regimen="carboplatin + paclitaxel",
        ),
    )
    [button] = [b for b in app.button if b.label == "Record decision"]
    button.click().run()

    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1, errors
    assert escape_markdown("Test Oncologist recorded the decision for this case") in errors[0]
    assert "Empiric platinum" in errors[0] and "Nothing of yours was saved" in errors[0]
    assert not any("Decision recorded" in s.value for s in app.success)
    with unit_of_work(database_url) as session:
        current = session.scalars(
            select(Decision.code).where(Decision.case_id == case_id, ~Decision.superseded)
        ).all()
    assert current == ["empiric_platinum_taxane"]


def test_on_the_meeting_screen_the_loser_sees_the_conflict_and_the_standing_decision(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
    database_url: str,
) -> None:
    case_id = make_case()
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    add_to_agenda(contexts["navigator"], meeting, case_id)
    app = open_page("pages/meeting.py", role="chair", query={"meeting_id": str(meeting)})
    key = f"meeting_{meeting}_case_{case_id}"
    app.selectbox(key=f"{key}_code").set_value("best_supportive_care").run()
    app.text_area(key=f"{key}_form_best_supportive_care_0_rationale").input("Frail")
    record_decision(
        contexts["oncologist"],
        case_id,
        DecisionDraft("clinical_trial", "Eligible for the CUP trial", TODAY, meeting),
    )
    next(b for b in app.button if b.label == "Record decision").click().run()

    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "Test Oncologist recorded the decision" in errors[0], errors
    # The screen now shows the decision that stands, and offers no second form.
    assert any("Clinical trial" in s.value for s in app.success)
    assert "Record decision" not in {b.label for b in app.button}
    with unit_of_work(database_url) as session:
        current = session.scalars(
            select(Decision.code).where(Decision.case_id == case_id, ~Decision.superseded)
        ).all()
    assert current == ["clinical_trial"]
