"""Issue 21 in the browser: the oncologist records a decision with two referrals beside
it; the navigator moves one to "seen"; the other, still only requested two weeks on, is
on the worklist; the before-clinic summary, the GP letter and the FHIR export list both."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Callable

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from tests.browser.conftest import AppServer, choose, sign_in, wait_for_app

EXCEPTION = '[data-testid="stException"]'


def _undecided_queued_case(url: str) -> int:
    from cupboard.db import unit_of_work
    from cupboard.models import AgendaItem, Decision, MdtMeeting

    with unit_of_work(url) as session:
        return session.execute(
            select(AgendaItem.case_id)
            .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
            .where(AgendaItem.case_id.not_in(select(Decision.case_id)))
            .order_by(MdtMeeting.meeting_date, AgendaItem.position)
            .limit(1)
        ).scalar_one()


def _open_decision_tab(page: object, server: AppServer, user: str, case_id: int) -> None:
    page.goto(f"{server.base_url}/case?case_id={case_id}")  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, user)
    page.get_by_role("tab", name="Decision").click()  # type: ignore[attr-defined]
    wait_for_app(page)


def _pick(page: object, key: str, option: str, *, many: bool = False) -> None:
    """Choose an option of the select (or multiselect: ``many``) with this widget key."""
    field = page.locator(f".st-key-{key}").get_by_role("combobox")  # type: ignore[attr-defined]
    field.scroll_into_view_if_needed()
    field.click()
    page.get_by_role("option", name=re.compile(f"^{option}$")).click()  # type: ignore[attr-defined]
    if many:  # a multiselect stays open for the next choice
        page.keyboard.press("Escape")  # type: ignore[attr-defined]


def test_two_referrals_beside_a_decision_followed_up_chased_and_in_the_letter(
    new_server: Callable[..., AppServer],
    page_factory: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cupboard.db import unit_of_work
    from cupboard.models import CareReferral

    server = new_server()
    case_id = _undecided_queued_case(server.database_url)
    key = f"case_{case_id}_referrals"
    today = dt.date.today()

    # The oncologist records the board's decision on the page, then the referrals beside it.
    doctor = page_factory()
    _open_decision_tab(doctor, server, "demo-oncologist", case_id)
    choose(doctor, doctor.locator(f".st-key-case_{case_id}_code"), re.compile(r"Clinical trial$"))  # type: ignore[attr-defined]
    doctor.get_by_label("Rationale (required)").first.fill("Eligible for the CUP trial.")  # type: ignore[attr-defined]
    doctor.get_by_role("button", name="Record decision").first.click()  # type: ignore[attr-defined]
    wait_for_app(doctor)
    doctor.get_by_text("Decision recorded: Clinical trial.").wait_for()  # type: ignore[attr-defined]
    _pick(doctor, f"{key}_others", "Psycho-oncology", many=True)
    _pick(doctor, f"{key}_others", "Dietitian", many=True)
    doctor.get_by_label(re.compile("^Reason \\(a suggested")).fill("New CUP diagnosis; weight loss")  # type: ignore[attr-defined]
    doctor.get_by_role("button", name="Request referrals").click()  # type: ignore[attr-defined]
    wait_for_app(doctor)
    doctor.get_by_text("Referral requested: Psycho-oncology, Dietitian.").wait_for()  # type: ignore[attr-defined]
    assert doctor.locator(EXCEPTION).count() == 0  # type: ignore[attr-defined]

    with unit_of_work(server.database_url) as session:
        made = {r.kind: r.id for r in session.scalars(select(CareReferral))}
    assert set(made) == {"psycho_oncology", "dietitian"}

    navigator = page_factory()
    _open_decision_tab(navigator, server, "demo-navigator", case_id)
    _pick(navigator, f"{key}_next_{made['psycho_oncology']}", "Seen")
    wait_for_app(navigator)
    navigator.locator(f".st-key-{key}_move_{made['psycho_oncology']}_1 button").click()  # type: ignore[attr-defined]
    wait_for_app(navigator)
    navigator.get_by_text(f"Psycho-oncology: seen on {today.isoformat()}.").wait_for()  # type: ignore[attr-defined]

    # Two weeks and a day later (the clock moved in the database), the dietitian has
    # still not accepted: the navigator's worklist chases it.
    with unit_of_work(server.database_url) as session:
        session.execute(
            update(CareReferral)
            .where(CareReferral.id == made["dietitian"])
            .values(requested_on=today - dt.timedelta(days=15))
        )
    navigator.get_by_role("link", name="Navigator worklist").click()  # type: ignore[attr-defined]
    wait_for_app(navigator)
    navigator.get_by_text("All cases").click()  # type: ignore[attr-defined]
    wait_for_app(navigator)
    navigator.get_by_text("Referral not accepted: 1").wait_for()  # type: ignore[attr-defined]

    navigator.goto(f"{server.base_url}/summary?case_id={case_id}")  # type: ignore[attr-defined]
    wait_for_app(navigator)
    sign_in(navigator, "demo-navigator")  # a new address is a new session
    table = navigator.locator('[data-testid="stTable"]').first  # type: ignore[attr-defined]
    table.get_by_text("Psycho-oncology").wait_for()
    assert "Dietitian" in table.inner_text()
    with navigator.expect_download() as download_info:  # type: ignore[attr-defined]
        navigator.get_by_role(  # type: ignore[attr-defined]
            "button", name="Download the outcome letter for the GP / referrer (PDF)"
        ).click()
    pdf = download_info.value.path().read_bytes()
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Psycho-oncology: requested {today.isoformat()}; seen {today.isoformat()}" in text
    assert "Dietitian: requested" in text
    for page in (doctor, navigator):
        assert page.locator(EXCEPTION).count() == 0  # type: ignore[attr-defined]

    # And the case's FHIR export carries both as ServiceRequests, with their status.
    from cupboard.models import User
    from cupboard.permissions import Actor
    from cupboard.services.context import ServiceContext
    from cupboard.services.interop import export_case_fhir

    monkeypatch.setenv("CUPBOARD_DEMO", "1")  # the server's demo accounts, as it runs
    with unit_of_work(server.database_url) as session:
        user = session.scalars(select(User).where(User.username == "demo-navigator")).one()
        actor = Actor(user.id, user.username, user.display_name, user.role)
    bundle = json.loads(
        export_case_fhir(ServiceContext(server.database_url, actor), case_id).content
    )
    requests = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
        and any(c["system"].endswith("/care-referral") for c in e["resource"]["code"]["coding"])
    ]
    # cupboard's own status rides along as an extension (FHIR's own is "active" for both).
    statuses = sorted(
        x["valueCoding"]["code"]
        for r in requests
        for x in r["extension"]
        if x["url"].endswith("/care-referral-status")
    )
    assert statuses == ["requested", "seen"], requests
