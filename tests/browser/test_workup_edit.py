"""A navigator keeps the workup current in real Chromium: one status cell changed in
the workup's spreadsheet editor, saved, audited under their name, shown as saved.

Also saves the README screenshot of the workup section.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cupboard.knowledge.investigations import INVESTIGATION_STATUS_LABELS
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import case_record
from cupboard.services.context import ServiceContext
from tests.browser.conftest import AppServer, edit_workup_status, sign_in, wait_for_app
from tests.browser.test_mdt_flow import SCREENSHOTS
from tests.support import investigation_updates


def test_navigator_changes_a_status_in_the_workup_and_saves_it(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    ctx = ServiceContext(server.database_url, SYSTEM_ACTOR)
    # A demo case whose workup shows an investigation still to request or requested
    # (a one-click change: no date to type).
    case_id, row_index, row = next(
        (case_id, i, r)
        for case_id in range(1, 31)
        for i, r in enumerate(r for r in case_record.workup(ctx, case_id) if r.applies)
        if r.status in ("to_request", "requested")
    )
    target = "to_request" if row.status == "requested" else "requested"

    page = page_factory(width=1440, height=1000)
    page.goto(f"{server.base_url}/case?case_id={case_id}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-navigator")
    page.get_by_role("heading", name=re.compile(r"^Case CUP-")).wait_for()  # type: ignore[attr-defined]
    edit_workup_status(page, row_index, INVESTIGATION_STATUS_LABELS[target])

    page.get_by_role("button", name="Save workup changes").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text(f"Saved: {row.label}.").wait_for()  # type: ignore[attr-defined]
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "workup.png"))  # type: ignore[attr-defined]

    after = {r.investigation_id: r for r in case_record.workup(ctx, case_id)}
    assert after[row.investigation_id].status == target
    assert after[row.investigation_id].version == row.version + 1
    audited = investigation_updates(server.database_url, row.investigation_id, "status")
    assert [(e.actor_username, e.before, e.after) for e in audited] == [
        ("demo-navigator", f'"{row.status}"', f'"{target}"')
    ]
