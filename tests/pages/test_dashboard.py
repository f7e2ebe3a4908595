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


def test_the_account_is_checked_once_a_run_and_a_change_applies_at_the_next_click(
    open_page: Callable[..., object], contexts: dict[str, ServiceContext], database_url: str
) -> None:
    """dashboard.py checks the signed-in account at the start of every run and the
    page's guard takes that check instead of asking again; a deactivation or role change
    by an administrator still takes effect at the user's very next click."""
    from sqlalchemy import event

    from cupboard.db import get_engine, unit_of_work
    from cupboard.models import User
    from cupboard.services.accounts import update_user
    from cupboard.ui.guard import ACTOR_KEY

    account_reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM users" in statement:
            account_reads.append(statement)

    engine = get_engine(database_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        app = open_page("pages/queue.py", role="navigator")
        assert [t.value for t in app.title] == ["MDT queue"]
        account_reads.clear()
        app.run()  # type: ignore[attr-defined]
        assert [t.value for t in app.title] == ["MDT queue"]
        # The guard reads the account once a run; each service call checks it again
        # with one primary-key select of role and flags (cupboard/services/context.py).
        checks = [s for s in account_reads if s.startswith("SELECT users.role, users.is_active")]
        guard_reads = [s for s in account_reads if s not in checks]
        assert len(guard_reads) == 1, account_reads
        assert app.get("popover")  # type: ignore[attr-defined]  # a navigator's "New meeting"
    finally:
        event.remove(engine, "before_cursor_execute", count)

    navigator = contexts["navigator"].actor
    with unit_of_work(database_url) as session:
        user = session.get(User, navigator.user_id)
        assert user is not None
        version = user.version
    update_user(contexts["admin"], navigator.user_id, version, {"role": "viewer"})
    app.run()  # type: ignore[attr-defined]
    assert app.session_state[ACTOR_KEY].role == "viewer"  # type: ignore[attr-defined]
    # A viewer's queue: the navigator's tools are gone at this click already.
    assert [t.value for t in app.title] == ["MDT queue"]  # type: ignore[attr-defined]
    assert not app.get("popover")  # type: ignore[attr-defined]
    update_user(contexts["admin"], navigator.user_id, version + 1, {"is_active": False})
    app.run()  # type: ignore[attr-defined]
    assert [t.value for t in app.title] == ["cupboard"]  # type: ignore[attr-defined]
    assert app.text_input(key="sign_in_username") is not None  # type: ignore[attr-defined]
