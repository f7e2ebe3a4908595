"""Issue 16: a closed case, on no agenda, is found by the start of its MRN and opened."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import Case, Patient
from tests.browser.conftest import AppServer, sign_in, wait_for_app


def test_find_a_closed_case_by_mrn_prefix_and_open_it(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    with unit_of_work(server.database_url) as session:
        case_id, pseudonym, mrn = session.execute(
            select(Case.id, Patient.pseudonym, Patient.mrn)
            .join(Patient, Case.patient_id == Patient.id)
            .where(Case.status == "closed")
            .order_by(Case.id.desc())
        ).first()  # type: ignore[misc]
    page = page_factory()
    page.goto(f"{server.base_url}/case")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-navigator")
    search = page.get_by_role("textbox", name="Find a case")  # type: ignore[attr-defined]
    search.fill(mrn[:-1].lower())  # the start of the number, typed in lower case
    search.press("Enter")
    wait_for_app(page)
    chips = page.locator(".st-key-case_finder_pick")  # type: ignore[attr-defined]
    chip = chips.get_by_role("radio").filter(has_text=pseudonym)
    chip.wait_for()
    assert "Closed" in chip.inner_text()
    chip.click()
    wait_for_app(page)
    page.get_by_text(f"Case {pseudonym}").wait_for()  # type: ignore[attr-defined]
    assert f"case_id={case_id}" in page.url  # type: ignore[attr-defined]
    assert f"MRN: {mrn}" in page.inner_text("body")  # type: ignore[attr-defined]
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
