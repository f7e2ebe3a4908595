"""The board's main path in real Chromium: queue → case → decision → history.

Also saves the README screenshots of the queue and the case workspace.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.browser.conftest import AppServer, choose, sign_in, wait_for_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EXCEPTION = '[data-testid="stException"]'


def _showcase_link(database_url: str) -> str:
    """The queue's link to the first agenda case with a favourable subtype (the most to
    show on the screenshot), else to the first case."""
    from cupboard.guidance import assess_case
    from cupboard.permissions import SYSTEM_ACTOR
    from cupboard.services import case_record, queue
    from cupboard.services.context import ServiceContext

    ctx = ServiceContext(database_url, SYSTEM_ACTOR)
    meeting_id = queue.next_meeting_id(queue.meetings(ctx))
    assert meeting_id is not None
    rows = queue.meeting_queue(ctx, meeting_id)
    profiles = case_record.case_profiles(ctx, [r.case_id for r in rows])
    favourable = [r for r in rows if assess_case(profiles[r.case_id]).is_favourable]
    chosen = (favourable or rows)[0]
    return f"#{chosen.position} {chosen.pseudonym}"


def test_chair_opens_a_queued_case_records_a_decision_and_sees_it_in_the_history(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    page: object = page_factory(width=1440, height=1000)
    page.goto(server.base_url)  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-chair")

    # The queue: the next meeting's agenda, one chip per case to open it.
    page.get_by_role("heading", name="MDT queue").wait_for()  # type: ignore[attr-defined]
    page.locator('[data-testid="stDataFrame"]').first.wait_for()  # type: ignore[attr-defined]
    page.wait_for_timeout(800)  # type: ignore[attr-defined]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "queue.png"))  # type: ignore[attr-defined]
    link = _showcase_link(server.database_url)
    pseudonym = link.split()[-1]
    page.get_by_role("radiogroup", name="Open a case").get_by_role(  # type: ignore[attr-defined]
        "radio", name=link, exact=True
    ).click()
    wait_for_app(page)

    # The case workspace, deep-linked in the address bar.
    page.get_by_role("heading", name=f"Case {pseudonym}").wait_for()  # type: ignore[attr-defined]
    case_id = re.search(r"case_id=(\d+)", page.url).group(1)  # type: ignore[attr-defined,union-attr]
    page.get_by_role("tab", name="Findings & guidance").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_role("heading", name="Guidance").wait_for()  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(SCREENSHOTS / "case.png"))  # type: ignore[attr-defined]

    # Record the decision; the options the guidance suggests are starred, any may be chosen.
    page.get_by_role("tab", name="Decision").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    choose(page, page.locator(f".st-key-case_{case_id}_code"), re.compile(r"Clinical trial$"))  # type: ignore[attr-defined]
    rationale = "Eligible for the open CUP trial; screen this week."
    page.get_by_label("Rationale (required)").first.fill(rationale)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Record decision").first.click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text("Decision recorded: Clinical trial.").wait_for()  # type: ignore[attr-defined]

    # The history, newest first, tells it.
    page.get_by_role("tab", name="History").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    history = page.locator('[data-testid="stTable"]').last  # type: ignore[attr-defined]
    history.wait_for()
    text = history.inner_text()
    assert "MDT decision: Clinical trial" in text
    assert rationale in text
    assert "Status: Ready for MDT → Decision recorded" in text
    assert text.index("MDT decision: Clinical trial") < text.index("Referral received")
    assert page.locator(EXCEPTION).count() == 0  # type: ignore[attr-defined]
