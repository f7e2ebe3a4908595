"""Security in a real browser: user text stays text, and a restarted server lets
nobody past the sign-in, even on a deep link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import Case, Investigation, Patient, User
from cupboard.services.accounts import actor_of
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.workup import update_investigation
from tests.browser.conftest import AppServer, sign_in, start_server, stop_server, wait_for_app

IMG_PAYLOAD = '<img src="x" onerror="window.__cupboard_xss=1;alert(1)">'
SCRIPT_PAYLOAD = "<script>window.__cupboard_xss=2;alert(2)</script>"
CASE_ID = 2


def _context(url: str, username: str) -> ServiceContext:
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return ServiceContext(url, actor_of(user))


def _write_payloads(url: str) -> None:
    """Free text through the service layer, as a user typing in a form would."""
    oncologist = _context(url, "demo-oncologist")
    with unit_of_work(url) as session:
        ct = session.scalar(
            select(Investigation).where(
                Investigation.case_id == CASE_ID, Investigation.code == "ct_cap"
            )
        )
        assert ct is not None
        ct_id, ct_version = ct.id, ct.version
    update_investigation(oncologist, ct_id, ct_version, {"result_text": f"Liver {IMG_PAYLOAD}"})
    record_decision(
        oncologist,
        CASE_ID,
        DecisionDraft(
            code="further_workup",
            rationale=f"Needs PET {SCRIPT_PAYLOAD}",
            workup_requested="PET-CT",
            decided_on=dt.date.today(),
        ),
    )


def _patient_identifiers(url: str) -> list[str]:
    with unit_of_work(url) as session:
        row = session.execute(
            select(Patient.pseudonym, Patient.name, Patient.mrn)
            .join(Case, Case.patient_id == Patient.id)
            .where(Case.id == CASE_ID)
        ).one()
    return list(row)


def test_script_and_img_payloads_in_free_text_render_as_text(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    _write_payloads(server.database_url)
    page = page_factory()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]

    page.goto(f"{server.base_url}/audit?case_id={CASE_ID}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-chair")
    page.get_by_text("Audit trail", exact=True).first.wait_for()  # type: ignore[attr-defined]
    img_line = page.get_by_text(IMG_PAYLOAD)  # type: ignore[attr-defined]
    script_line = page.get_by_text(SCRIPT_PAYLOAD)  # type: ignore[attr-defined]
    img_line.first.wait_for()
    script_line.first.wait_for()

    # Shown literally, as the characters the user typed ...
    line = img_line.first.inner_text()
    assert line.startswith("result_text: ") and line.endswith(f"→ Liver {IMG_PAYLOAD}")
    assert f"Needs PET {SCRIPT_PAYLOAD}" in script_line.first.inner_text()
    # ... and never interpreted: no element injected, nothing run, no dialog.
    assert page.locator('img[src="x"]').count() == 0  # type: ignore[attr-defined]
    injected = "[...document.scripts].some(s => s.textContent.includes('__cupboard_xss'))"
    assert page.evaluate(injected) is False  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    assert page.evaluate("window.__cupboard_xss === undefined")  # type: ignore[attr-defined]
    assert dialogs == []
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]


def _assert_signed_out(page: object, identifiers: list[str]) -> None:
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Sign in" in body
    assert page.get_by_label("Username").count() == 1  # type: ignore[attr-defined]
    for identifier in identifiers:
        assert identifier not in body, identifier
    assert page.locator('[data-testid="stDataFrame"]').count() == 0  # type: ignore[attr-defined]
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]


def test_sign_out_then_restart_leaves_a_deep_link_at_the_sign_in(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object], tmp_path: Path
) -> None:
    first = new_server()
    identifiers = _patient_identifiers(first.database_url)
    page = page_factory()

    page.goto(f"{first.base_url}/case?case_id={CASE_ID}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-oncologist")
    page.get_by_text(f"Case {identifiers[0]}").wait_for()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]
    page.get_by_label("Username").wait_for()  # type: ignore[attr-defined]
    wait_for_app(page)
    _assert_signed_out(page, identifiers)

    # Sign in again, then the server restarts on the same database.
    sign_in(page, "demo-oncologist")
    page.get_by_role("button", name="Sign out").wait_for()  # type: ignore[attr-defined]
    stop_server(first)
    database = Path(first.database_url.removeprefix("sqlite:///"))
    second = start_server(database.parent, seed_cases=0)
    try:
        assert second.database_url == first.database_url
        # The very first request to the new process is the deep link, from a browser
        # that was signed in a moment ago (same cookies).
        page.goto(f"{second.base_url}/case?case_id={CASE_ID}")  # type: ignore[attr-defined]
        page.get_by_label("Username").wait_for()  # type: ignore[attr-defined]
        wait_for_app(page)
        _assert_signed_out(page, identifiers)
        # Signing in lands on the linked case, with the app's sidebar and its sign-out
        # (not Streamlit's legacy list of page files).
        sign_in(page, "demo-oncologist")
        page.get_by_text(f"Case {identifiers[0]}").wait_for()  # type: ignore[attr-defined]
        page.get_by_role("button", name="Sign out").wait_for()  # type: ignore[attr-defined]
        page.get_by_role("link", name="Audit trail").wait_for()  # type: ignore[attr-defined]
    finally:
        stop_server(second)
