"""Issue 16: a navigator edits a case's sites and takes it over; her worklist shows it."""

from __future__ import annotations

from collections.abc import Callable

from cupboard.db import unit_of_work
from cupboard.models import Case
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services.context import ServiceContext
from cupboard.services.worklist import worklist_page
from tests.browser.conftest import AppServer, sign_in, wait_for_app


def test_edit_sites_and_navigator_and_the_worklist_follows(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    everyone = worklist_page(ServiceContext(server.database_url, SYSTEM_ACTOR), limit=None)
    case_id = everyone.items[0].case_id
    items = sum(1 for item in everyone.items if item.case_id == case_id)
    with unit_of_work(server.database_url) as session:
        case = session.get(Case, case_id)
        assert case is not None and "brain" not in case.metastatic_sites
        pseudonym = case.patient.pseudonym

    page = page_factory()
    page.goto(f"{server.base_url}/worklist")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-navigator")
    # The demo cohort's cases belong to other nurses: nothing is hers yet.
    page.get_by_text("Nothing needs action.").wait_for()  # type: ignore[attr-defined]

    # To the case in the same session, through the case finder.
    page.get_by_role("link", name="Case", exact=True).click()  # type: ignore[attr-defined]
    wait_for_app(page)
    search = page.get_by_role("textbox", name="Find a case")  # type: ignore[attr-defined]
    search.fill(pseudonym)
    search.press("Enter")
    page.locator(".st-key-case_finder_pick").get_by_role("radio").filter(  # type: ignore[attr-defined]
        has_text=pseudonym
    ).click()
    wait_for_app(page)
    page.get_by_text(f"Case {pseudonym}").wait_for()  # type: ignore[attr-defined]
    wait_for_app(page)  # opening the case reruns the page twice (query, then record)
    page.locator(f".st-key-case_{case_id}_details_box summary").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    sites = page.get_by_role("combobox", name="Metastatic sites")  # type: ignore[attr-defined]
    sites.click()
    page.get_by_role("option", name="Brain", exact=True).click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    # The choice stands once the box shows it as a chosen site (its tag), not before.
    page.get_by_test_id("stMultiSelectTagsContainer").get_by_text("Brain").wait_for()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_role("combobox", name="Responsible navigator").click()  # type: ignore[attr-defined]
    page.get_by_role("option", name="Demo Nurse Navigator", exact=True).click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_role("button", name="Save case details").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text("Case details saved.").wait_for()  # type: ignore[attr-defined]
    wait_for_app(page)
    assert "Brain" in page.inner_text("body")  # type: ignore[attr-defined]

    page.get_by_role("link", name="Navigator worklist").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text(f"{items} item(s) need action").wait_for()  # type: ignore[attr-defined]
    assert page.get_by_text("Nothing needs action.").count() == 0  # type: ignore[attr-defined]
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
