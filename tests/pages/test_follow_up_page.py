"""Treatment start and follow-up done on the case's Decision tab clear the worklist
rows that wait for them (issue 16), in AppTest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision, update_follow_up
from cupboard.services.worklist import worklist_page

TODAY = dt.date.today()


def _kinds(ctx: ServiceContext, case_id: int) -> set[str]:
    return {i.kind for i in worklist_page(ctx, limit=None).items if i.case_id == case_id}


def _decision_tab(open_page: Callable[..., Any], role: str, case_id: int) -> Any:
    app = open_page("pages/case.py", role=role, query={"case_id": str(case_id)})
    app.session_state[f"case_tabs_{case_id}"] = "Decision"
    return app.run()


def test_recording_treatment_start_clears_the_worklist_row(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case(referral_date=TODAY - dt.timedelta(days=40))
    decided = TODAY - dt.timedelta(days=30)
    decision_id = record_decision(
        contexts["oncologist"],
        case_id,
        DecisionDraft(
            "empiric_platinum_taxane", "Unfavourable CUP", decided, regimen="carbo-pacli"
        ),
    )
    assert "treatment_not_started" in _kinds(contexts["navigator"], case_id)
    app = _decision_tab(open_page, "navigator", case_id)
    assert not app.exception
    k = f"case_{case_id}_{decision_id}_1"
    app.date_input(key=f"{k}_started").set_value(decided + dt.timedelta(days=9))
    app.button(key=f"case_{case_id}_{decision_id}_follow_up_save").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert "treatment_not_started" not in _kinds(contexts["navigator"], case_id)


def test_recording_a_follow_up_done_clears_the_overdue_row(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case(referral_date=TODAY - dt.timedelta(days=60))
    decision_id = record_decision(
        contexts["oncologist"],
        case_id,
        DecisionDraft("best_supportive_care", "ECOG 3", TODAY - dt.timedelta(days=50)),
    )
    update_follow_up(
        contexts["navigator"],
        decision_id,
        1,
        {"follow_up_due": TODAY - dt.timedelta(days=5)},
    )
    assert "follow_up_overdue" in _kinds(contexts["navigator"], case_id)
    app = _decision_tab(open_page, "navigator", case_id)
    k = f"case_{case_id}_{decision_id}_2"
    app.date_input(key=f"{k}_done").set_value(TODAY - dt.timedelta(days=1))
    app.button(key=f"case_{case_id}_{decision_id}_follow_up_save").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert "follow_up_overdue" not in _kinds(contexts["navigator"], case_id)


def test_a_viewer_reads_the_dates_without_a_form(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case()
    decision_id = record_decision(
        contexts["chair"], case_id, DecisionDraft("best_supportive_care", "ECOG 3", TODAY)
    )
    app = _decision_tab(open_page, "viewer", case_id)
    assert not app.exception
    assert f"case_{case_id}_{decision_id}_follow_up_save" not in [b.key for b in app.button]
    assert any("Treatment started: —" in t.value for t in app.text)
