"""A session whose account changed under it writes and downloads nothing, in Chromium.

Streamlit runs a widget's callback, a fragment's rerun and a deferred download without
running the page's guard first, with the context of the run before. An administrator
demotes or deactivates the user (here through the service, against the server's
database); the user's next click, fragment rerun and download are refused and audited
as refused (issue 14 points 1 and 4). And the media URL of an identifiable download is
useless to a plain HTTP client once the user has signed out.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.knowledge.investigations import INVESTIGATION_STATUS_LABELS
from cupboard.models import AuditEvent, Case, EcogObservation, Patient, User
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import case_record
from cupboard.services.accounts import update_user
from cupboard.services.context import ServiceContext
from tests.browser.conftest import AppServer, edit_workup_status, sign_in, wait_for_app
from tests.support import investigation_updates

CASE_ID = 1


def _change_account(url: str, username: str, **changes: object) -> None:
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        user_id, version = user.id, user.version
    update_user(ServiceContext(url, SYSTEM_ACTOR), user_id, version, dict(changes))


def _refusals(url: str, username: str) -> list[tuple[str, str]]:
    with unit_of_work(url) as session:
        rows = session.execute(
            select(AuditEvent.entity, AuditEvent.reason)
            .where(AuditEvent.action == "refused", AuditEvent.actor_username == username)
            .order_by(AuditEvent.id)
        )
        return [(entity, reason or "") for entity, reason in rows]


def _wait_for_refusal(url: str, username: str, entity: str) -> list[tuple[str, str]]:
    """A download runs outside any script run: nothing on the page to wait for, so wait
    for the audit row its refusal writes."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        refusals = _refusals(url, username)
        if any(e == entity for e, _ in refusals):
            return refusals
        time.sleep(0.2)
    raise AssertionError(f"no refused {entity} audited for {username}")


def _count(url: str, query: object) -> int:
    with unit_of_work(url) as session:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def _open_case(page: object, server: AppServer, username: str) -> None:
    page.goto(f"{server.base_url}/case?case_id={CASE_ID}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, username)
    page.get_by_role("heading", name=re.compile(r"^Case CUP-")).wait_for()  # type: ignore[attr-defined]


def _open_export(page: object) -> None:
    page.get_by_text("Export", exact=True).click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_role("button", name="Download FHIR bundle (JSON)").wait_for()  # type: ignore[attr-defined]


def test_a_demoted_users_click_and_download_are_refused_and_audited(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    url = server.database_url
    page = page_factory()
    _open_case(page, server, "demo-navigator")
    _open_export(page)
    page.get_by_text("Include names, MRNs and birth dates").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_role("tab", name="Performance status").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_role("button", name="Record ECOG").wait_for()  # type: ignore[attr-defined]
    ecogs = select(func.count()).select_from(EcogObservation)
    ecogs_before = _count(url, ecogs)
    exports = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export")
    exports_before = _count(url, exports)

    # The administrator demotes the nurse to viewer; the page still shows her tools.
    _change_account(url, "demo-navigator", role="viewer")

    downloads: list[object] = []
    page.on("download", lambda download: downloads.append(download))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Download FHIR bundle (JSON)").click()  # type: ignore[attr-defined]
    _wait_for_refusal(url, "demo-navigator", "export_data")

    score = page.locator('[data-testid="stButtonGroup"] button').filter(has_text=re.compile("^1$"))  # type: ignore[attr-defined]
    score.first.click()
    page.get_by_role("button", name="Record ECOG").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text("Not allowed: a viewer may not record ecog").wait_for()  # type: ignore[attr-defined]

    assert downloads == []
    assert _count(url, ecogs) == ecogs_before
    assert _count(url, exports) == exports_before
    refusals = _refusals(url, "demo-navigator")
    assert [e for e, _ in refusals] == ["export_data", "record_ecog"]
    assert all("a viewer may not" in reason for _, reason in refusals)
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]


def test_a_deactivated_users_workup_save_is_refused_and_signs_them_out(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    url = server.database_url
    ctx = ServiceContext(url, SYSTEM_ACTOR)
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
    edit_workup_status(page, row_index, INVESTIGATION_STATUS_LABELS[target])

    # The administrator deactivates the account while the edit is on screen.
    _change_account(url, "demo-navigator", is_active=False)

    # The save runs as a callback of the workup section's fragment, then the fragment
    # reruns: both refuse, and the whole page shows the sign-in form and why.
    page.get_by_role("button", name="Save workup changes").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text("your account is no longer active").wait_for()  # type: ignore[attr-defined]
    page.get_by_label("Username").wait_for()  # type: ignore[attr-defined]

    after = {r.investigation_id: r for r in case_record.workup(ctx, case_id)}
    assert (after[row.investigation_id].status, after[row.investigation_id].version) == (
        row.status,
        row.version,
    )
    assert investigation_updates(url, row.investigation_id, "status") == []
    refusals = _refusals(url, "demo-navigator")
    assert [e for e, _ in refusals] == ["update_investigation"]
    assert "no longer active" in refusals[0][1]
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]


def _fetch(address: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(address, timeout=10) as response:  # noqa: S310 (our server)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_an_identifiable_downloads_url_is_useless_after_sign_out(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    page = page_factory()
    _open_case(page, server, "demo-oncologist")
    _open_export(page)
    page.get_by_text("Include names, MRNs and birth dates").click()  # type: ignore[attr-defined]
    wait_for_app(page)
    with page.expect_download() as download_info:  # type: ignore[attr-defined]
        page.get_by_role("button", name="Download FHIR bundle (JSON)").click()  # type: ignore[attr-defined]
    media_url = download_info.value.url
    assert "/media/" in media_url
    with unit_of_work(server.database_url) as session:
        name = session.scalar(
            select(Patient.name).join(Case, Case.patient_id == Patient.id).where(Case.id == CASE_ID)
        )
    assert name
    # While the session is signed in, the link holds the patient's name: it is the
    # identifiable bundle (a plain client with no cookie gets it: Streamlit checks none).
    status, body = _fetch(media_url)
    assert status == 200 and name.encode() in body

    page.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]
    page.get_by_label("Username").wait_for()  # type: ignore[attr-defined]
    wait_for_app(page)

    status, body = _fetch(media_url)
    assert status == 404 and name.encode() not in body
