"""Meeting mode on a 1920×1080 projector: everything the board needs on one screen.

Saves docs/screenshots/meeting.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.browser.conftest import AppServer, sign_in, wait_for_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTH, HEIGHT = 1920, 1080


def _within_viewport(page: object, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()  # type: ignore[attr-defined]
    assert box is not None, selector
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= WIDTH, (selector, box)
    assert box["y"] + box["height"] <= HEIGHT, (selector, box)
    return box  # type: ignore[no-any-return]


def _showcase_case(database_url: str) -> str:
    """The agenda strip's label of the first case with a favourable subtype (the most
    to show on the screenshot), else of the first case."""
    from cupboard.guidance import assess_case
    from cupboard.permissions import SYSTEM_ACTOR
    from cupboard.services import case_record, meeting_mode, queue
    from cupboard.services.context import ServiceContext

    ctx = ServiceContext(database_url, SYSTEM_ACTOR)
    meeting_id = queue.next_meeting_id(queue.meetings(ctx))
    assert meeting_id is not None
    cases = meeting_mode.meeting_session(ctx, meeting_id).cases
    profiles = case_record.case_profiles(ctx, [c.case_id for c in cases])
    favourable = [c for c in cases if assess_case(profiles[c.case_id]).is_favourable]
    chosen = (favourable or list(cases))[0]
    return f"{chosen.position} {chosen.pseudonym}"


def test_meeting_mode_fits_a_1080p_screen_without_scrolling(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    page: object = page_factory(width=WIDTH, height=HEIGHT)
    page.goto(server.base_url)  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-chair")
    page.get_by_role("link", name="Meeting mode").first.click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_role("button", name="Start meeting").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text("End meeting").wait_for()  # type: ignore[attr-defined]
    page.get_by_text(_showcase_case(server.database_url), exact=True).click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()  # type: ignore[attr-defined]
    # Before a choice the options worth discussing show; choosing one opens the form.
    page.get_by_text("Worth discussing").wait_for()  # type: ignore[attr-defined]
    page.locator('[class*="st-key-meeting_"][class*="_code"]').click()  # type: ignore[attr-defined]
    page.get_by_role("option", name=re.compile(r"Site-specific therapy$")).click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_label("Rationale (required)").fill("Board agrees with the subtype reading.")  # type: ignore[attr-defined]
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "meeting.png"))  # type: ignore[attr-defined]

    # The decision form, the ECOG chart, the case question and the workup gaps are all
    # on screen at once; the sidebar is out of the way.
    form = _within_viewport(page, '[data-testid="stForm"]')
    assert form["height"] > 200
    _within_viewport(page, '[data-testid="stPlotlyChart"]')
    _within_viewport(page, '[data-testid="stHeadingWithActionElements"] h3')
    _within_viewport(page, '[data-testid="stAlert"]')
    save = page.get_by_role("button", name="Record decision")  # type: ignore[attr-defined]
    assert save.is_visible() and save.bounding_box()["y"] < HEIGHT
    assert page.locator('[data-testid="stSidebar"]').first.bounding_box() is None or (  # type: ignore[attr-defined]
        page.locator('[data-testid="stSidebar"]').first.bounding_box()["width"] < 50  # type: ignore[attr-defined]
    )

    # De-identified by default: no MRN, no "Name:" line.
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "DEMO0" not in body and "Name:" not in body and "Born:" not in body
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]

    # The clicker's Page Down moves on to the next case (once no text box has the focus:
    # while typing, keys belong to the text).
    heading = page.locator('[data-testid="stHeadingWithActionElements"] h2').first  # type: ignore[attr-defined]
    position = int(heading.inner_text().split("/")[0])
    page.evaluate("document.activeElement.blur()")  # type: ignore[attr-defined]
    page.keyboard.press("PageUp" if position > 1 else "PageDown")  # type: ignore[attr-defined]
    wait_for_app(page)
    moved_to = position - 1 if position > 1 else 2
    page.wait_for_function(  # type: ignore[attr-defined]
        "(n) => document.querySelector('[data-testid=\"stHeadingWithActionElements\"] h2')"
        ".innerText.startsWith(n + '/')",
        arg=moved_to,
    )
