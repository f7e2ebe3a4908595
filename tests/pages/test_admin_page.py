"""The users page: list, add, change a role with a version check, reset a password."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import User
from cupboard.services import accounts
from cupboard.services.context import ServiceContext

ADMIN_PAGE = "pages/admin.py"


def _user(url: str, username: str) -> User | None:
    with unit_of_work(url) as session:
        return session.scalar(select(User).where(User.username == username))


def _shown(value: str) -> str:
    """An alert as the reader sees it: the page escapes markdown in what it shows."""
    return value.replace("\\", "")


def _errors(app: Any) -> list[str]:
    return [_shown(e.value) for e in app.error]


def _successes(app: Any) -> list[str]:
    return [_shown(s.value) for s in app.success]


def test_admin_sees_every_account(open_page: Callable[..., Any]) -> None:
    app = open_page(ADMIN_PAGE, role="admin")
    assert not app.exception
    assert [t.value for t in app.title] == ["Users"]
    table = app.dataframe[0].value
    assert sorted(table["Username"]) == sorted(
        f"test-{r}" for r in ("navigator", "oncologist", "chair", "pathologist", "viewer", "admin")
    )
    assert "password_hash" not in repr(app.main)


def test_admin_adds_a_user_who_can_then_sign_in(
    open_page: Callable[..., Any], database_url: str
) -> None:
    app = open_page(ADMIN_PAGE, role="admin")
    app.text_input(key="new_username").input("Dr.New")
    app.text_input(key="new_display_name").input("Dr New")
    app.selectbox(key="new_role").select("pathologist")
    app.selectbox(key="new_discipline").select("pathology")
    app.text_input(key="new_password").input("a good long password")
    app.button(key="add_user_submit").click().run()
    assert not app.exception
    assert _errors(app) == []
    assert any("Added user dr.new" in s for s in _successes(app))
    assert "dr.new" in list(app.dataframe[0].value["Username"])
    created = _user(database_url, "dr.new")
    assert created is not None
    assert (created.role, created.discipline, created.is_demo) == (
        "pathologist",
        "pathology",
        False,
    )
    actor = accounts.authenticate(database_url, "dr.new", "a good long password")
    assert actor.role == "pathologist"


def test_adding_a_user_with_bad_input_says_why_and_adds_nobody(
    open_page: Callable[..., Any], database_url: str
) -> None:
    app = open_page(ADMIN_PAGE, role="admin")
    app.text_input(key="new_username").input("weak")
    app.text_input(key="new_display_name").input("Weak Password")
    app.selectbox(key="new_role").select("viewer")
    app.text_input(key="new_password").input("short")
    app.button(key="add_user_submit").click().run()
    assert not app.exception
    [error] = _errors(app)
    assert error.startswith("password") and "10 characters" in error
    assert _user(database_url, "weak") is None
    # What was typed stays in the form to be corrected.
    assert app.text_input(key="new_username").value == "weak"


def test_admin_changes_a_role_and_deactivates(
    open_page: Callable[..., Any], database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    target = contexts["viewer"].actor.user_id
    app = open_page(ADMIN_PAGE, role="admin")
    app.selectbox(key="admin_account").select(target).run()
    app.selectbox(key=f"edit_role_{target}").select("navigator")
    app.checkbox(key=f"edit_active_{target}").uncheck()
    app.button(key="edit_user_submit").click().run()
    assert not app.exception
    assert _errors(app) == []
    assert any("Saved role, is_active for test-viewer" in s for s in _successes(app))
    changed = _user(database_url, "test-viewer")
    assert changed is not None
    assert (changed.role, changed.is_active, changed.version) == ("navigator", False, 2)


def test_a_change_made_meanwhile_is_a_conflict_that_names_it(
    open_page: Callable[..., Any], database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    target = contexts["viewer"].actor.user_id
    assert target is not None
    app = open_page(ADMIN_PAGE, role="admin")
    app.selectbox(key="admin_account").select(target).run()
    # Another administrator saves first.
    accounts.update_user(contexts["admin"], target, 1, {"role": "chair"})
    app.selectbox(key=f"edit_role_{target}").select("pathologist")
    app.button(key="edit_user_submit").click().run()
    assert not app.exception
    [error] = _errors(app)
    assert "Conflict" in error and "role" in error and "chair" in error
    kept = _user(database_url, "test-viewer")
    assert kept is not None and kept.role == "chair"  # nothing lost, nothing overwritten
    # Reloading shows the current account, and saving then works.
    app.button(key="admin_reload").click().run()
    assert app.selectbox(key=f"edit_role_{target}").value == "chair"
    app.selectbox(key=f"edit_role_{target}").select("pathologist")
    app.button(key="edit_user_submit").click().run()
    assert _errors(app) == []
    kept = _user(database_url, "test-viewer")
    assert kept is not None and kept.role == "pathologist"


def test_admin_resets_a_password(
    open_page: Callable[..., Any], database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    target = contexts["navigator"].actor.user_id
    app = open_page(ADMIN_PAGE, role="admin")
    app.selectbox(key="admin_account").select(target).run()
    app.text_input(key="reset_1").input("fresh passphrase 1")
    app.text_input(key="reset_2").input("fresh passphrase 2")
    app.button(key="reset_password_submit").click().run()
    assert any("differ" in e for e in _errors(app))
    app.text_input(key="reset_1").input("fresh passphrase 1")
    app.text_input(key="reset_2").input("fresh passphrase 1")
    app.button(key="reset_password_submit").click().run()
    assert _errors(app) == []
    assert accounts.authenticate(database_url, "test-navigator", "fresh passphrase 1").user_id == (
        target
    )


def test_non_admin_is_refused_and_sees_no_accounts(open_page: Callable[..., Any]) -> None:
    for role in ("navigator", "chair", "viewer"):
        app = open_page(ADMIN_PAGE, role=role)
        assert not app.exception
        rendered = repr(app.main)
        assert "test-admin" not in rendered and len(app.dataframe) == 0
        assert any("may not open this page" in e.value for e in app.error), role


def test_markup_typed_into_the_form_is_shown_as_text_in_the_refusal(
    open_page: Callable[..., Any], database_url: str
) -> None:
    app = open_page(ADMIN_PAGE, role="admin")
    app.text_input(key="new_username").input("dr.markup")
    app.text_input(key="new_display_name").input("Dr Markup")
    app.selectbox(key="new_role").select("viewer")
    app.text_input(key="new_email").input("[x](javascript:alert(1))<img src=x onerror=alert(1)>")
    app.button(key="add_user_submit").click().run()
    [error] = [e.value for e in app.error]
    # Every markdown/HTML character is escaped, so the message renders literally.
    assert "\\<img" in error and "\\[x\\]\\(javascript" in error
    assert _shown(error).startswith("email: is not an email address")
    assert _user(database_url, "dr.markup") is None
