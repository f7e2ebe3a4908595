"""Issue 16: after a workup save the case page's header counts what the section shows
("Missing before MDT" stayed at the old count beside the section's new one)."""

from __future__ import annotations

import re
from collections.abc import Callable

from cupboard.knowledge.investigations import INVESTIGATION_STATUS_LABELS
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import case_record
from cupboard.services.context import ServiceContext
from tests.browser.conftest import AppServer, edit_workup_status, sign_in, wait_for_app


def _missing_metric(page: object) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Missing before MDT")  # type: ignore[attr-defined]
    return str(metric.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def test_the_header_counts_the_workup_just_saved(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    ctx = ServiceContext(server.database_url, SYSTEM_ACTOR)
    # A demo case with a required investigation still to request: declining it (one
    # click, no date) takes one off the count of what is missing.
    case_id, row_index, row, missing = next(
        (case_id, i, r, sum(x.missing_before_mdt for x in rows))
        for case_id in range(1, 31)
        for rows in [[r for r in case_record.workup(ctx, case_id) if r.applies]]
        for i, r in enumerate(rows)
        if r.status == "to_request" and r.missing_before_mdt
    )
    page = page_factory(width=1440, height=1000)
    page.goto(f"{server.base_url}/case?case_id={case_id}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-navigator")
    page.get_by_role("heading", name=re.compile(r"^Case CUP-")).wait_for()  # type: ignore[attr-defined]
    assert _missing_metric(page) == str(missing)
    edit_workup_status(page, row_index, INVESTIGATION_STATUS_LABELS["declined"])
    page.get_by_role("button", name="Save workup changes").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text(f"Saved: {row.label}.").wait_for()  # type: ignore[attr-defined]
    page.get_by_text(f"{missing - 1} required before MDT").wait_for()  # type: ignore[attr-defined]
    wait_for_app(page)
    assert _missing_metric(page) == str(missing - 1)
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
