"""Clinical trials where the board decides (issue 19): on the case page's guidance and
in meeting mode beside the decision, the recruiting trials the case could enter, best
first; an NTRK basket moves from "possibly eligible" (NGS not done) to "eligible" once
the fusion is recorded. Closed and not-eligible trials are not shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cupboard.services.context import ServiceContext
from cupboard.services.findings import MolecularFindings, add_molecular_report
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.services.performance import record_ecog
from cupboard.services.trials import TrialDraft, add_trial, close_trial, get_trial
from cupboard.ui.text import escape_markdown as esc

TODAY = dt.date.today()
NTRK = "NCT09990021"


def _register(contexts: dict[str, ServiceContext]) -> None:
    navigator = contexts["navigator"]
    add_trial(
        navigator,
        TrialDraft(
            NTRK,
            "TRK inhibitor basket *for* NTRK fusions",
            {"required_biomarkers": ["NTRK fusion"], "ecog_max": 2},
            phase="Phase 2",
            site_contact="Trials unit, ext 4321",
        ),
    )
    add_trial(navigator, TrialDraft("NCT09990022", "Men only", {"sex": "male"}))
    closed = add_trial(navigator, TrialDraft("NCT09990023", "Closed basket"))
    close_trial(navigator, closed, get_trial(navigator, closed).version)


def _fusion(contexts: dict[str, ServiceContext], case_id: int) -> None:
    add_molecular_report(
        contexts["pathologist"],
        case_id,
        MolecularFindings(reported_on=TODAY, alterations=("ETV6::NTRK3 fusion",)),
    )


def _trial_lines(app: Any) -> tuple[list[str], list[str]]:
    assert not app.exception, app.exception
    eligible = [s.value for s in app.success if "Eligible:" in s.value]
    possibly = [i.value for i in app.info if "Possibly eligible:" in i.value]
    return eligible, possibly


def _case_page(open_page: Callable[..., Any], case_id: int) -> Any:
    app = open_page("pages/case.py", role="oncologist", query={"case_id": str(case_id)})
    app.session_state[f"case_tabs_{case_id}"] = "Findings & guidance"
    return app.run()


def test_case_page_shows_the_ntrk_trial_possibly_then_eligible(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    _register(contexts)
    case_id = make_case()
    record_ecog(contexts["oncologist"], case_id, score=1, observed_on=TODAY)

    app = _case_page(open_page, case_id)
    assert any("Clinical trials" in m.value for m in app.markdown)
    eligible, possibly = _trial_lines(app)
    assert eligible == []
    assert len(possibly) == 1 and NTRK in possibly[0] and "NGS not done" in possibly[0]
    # The title is the coordinator's text: shown literally, not as markdown.
    assert r"\*for\*" in possibly[0]
    shown = "\n".join(m.value for m in [*app.markdown, *app.info, *app.success])
    assert "NCT09990022" not in shown and "NCT09990023" not in shown

    _fusion(contexts, case_id)
    app = _case_page(open_page, case_id)
    eligible, possibly = _trial_lines(app)
    assert possibly == []
    assert len(eligible) == 1 and NTRK in eligible[0] and esc("ETV6::NTRK3") in eligible[0]
    assert any("Trials unit, ext 4321" in c.value for c in app.caption)


def test_meeting_mode_shows_the_ntrk_trial_beside_the_decision(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    _register(contexts)
    case_id = make_case()
    record_ecog(contexts["oncologist"], case_id, score=1, observed_on=TODAY)
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    add_to_agenda(contexts["navigator"], meeting, case_id, question="Trial?")

    app = open_page("pages/meeting.py", role="chair", query={"meeting_id": str(meeting)})
    eligible, possibly = _trial_lines(app)
    assert eligible == [] and len(possibly) == 1 and "NGS not done" in possibly[0]

    _fusion(contexts, case_id)
    app = open_page("pages/meeting.py", role="chair", query={"meeting_id": str(meeting)})
    eligible, possibly = _trial_lines(app)
    assert possibly == [] and len(eligible) == 1 and NTRK in eligible[0]


def test_no_recruiting_trial_says_so(
    make_case: Callable[..., int], open_page: Callable[..., Any]
) -> None:
    case_id = make_case()
    app = _case_page(open_page, case_id)
    assert not app.exception, app.exception
    assert any("No recruiting trial" in c.value for c in app.caption)
