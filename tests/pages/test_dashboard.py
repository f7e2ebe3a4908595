"""The entry point: sign-in gate first, then the board."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cupboard.services.context import ServiceContext
from cupboard.services.meetings import add_to_agenda, create_meeting


def test_signed_out_shows_sign_in_and_no_patient_data(
    open_page: Callable[..., object],
    make_case: Callable[..., int],
    contexts: dict[str, ServiceContext],
) -> None:
    case_id = make_case(name="Secret Person", mrn="MRN-SECRET")
    meeting = create_meeting(contexts["navigator"], meeting_date=dt.date.today())
    add_to_agenda(contexts["navigator"], meeting, case_id)
    for page in (None, "pages/queue.py", "pages/case.py"):
        app = open_page(page, role=None, query={"case_id": str(case_id)})
        assert not app.exception
        assert [t.value for t in app.title] == ["cupboard"]
        assert app.text_input(key="sign_in_username") is not None
        rendered = repr(app.main) + repr(app.sidebar)
        assert "Secret Person" not in rendered and "MRN-SECRET" not in rendered
        assert "CUP-00001" not in rendered
        assert len(app.dataframe) == 0


def test_sign_in_with_a_local_account_opens_the_queue(
    open_page: Callable[..., object], database_url: str
) -> None:
    from cupboard.permissions import SYSTEM_ACTOR
    from cupboard.services.accounts import create_user

    create_user(
        database_url,
        SYSTEM_ACTOR,
        username="nurse.a",
        display_name="Nurse A",
        role="navigator",
        password="a long enough password",
    )
    app = open_page(role=None)
    app.text_input(key="sign_in_username").input("nurse.a")
    app.text_input(key="sign_in_password").input("wrong password!")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["Wrong username or password."]
    app.text_input(key="sign_in_password").input("a long enough password")
    app.button[0].click().run()
    assert not app.exception
    assert [t.value for t in app.title] == ["MDT queue"]
