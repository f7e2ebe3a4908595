"""Accounts: argon2 hashes, refusals, throttling, demo accounts, OIDC mapping, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, PermissionDeniedError, ValidationError
from cupboard.models import AuditEvent, User
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import accounts
from cupboard.services.accounts import (
    SignInRefusedError,
    actor_for_oidc,
    authenticate,
    create_user,
    lockout_seconds,
    signed_in_actor,
)
from cupboard.services.context import ServiceContext

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)


def _user(url: str, username: str) -> User:
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user


def _events(url: str, user_id: int, action: str) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "user",
                    AuditEvent.entity_id == user_id,
                    AuditEvent.action == action,
                )
            )
        )


def _local(url: str, username: str = "nurse.k", **extra: object) -> int:
    fields: dict[str, object] = {
        "username": username,
        "display_name": "Nurse K",
        "role": "navigator",
        "password": PASSWORD,
    }
    fields.update(extra)
    return create_user(url, SYSTEM_ACTOR, **fields)  # type: ignore[arg-type]


# --- hashing and plain refusals ---------------------------------------------------


def test_password_is_stored_as_a_salted_argon2id_hash(database_url: str) -> None:
    _local(database_url, "a.one")
    _local(database_url, "a.two")
    first, second = _user(database_url, "a.one"), _user(database_url, "a.two")
    assert first.password_hash is not None and first.password_hash.startswith("$argon2id$")
    assert PASSWORD not in first.password_hash
    assert first.password_hash != second.password_hash  # salted
    actor = authenticate(database_url, "A.One ", PASSWORD, now=T0)
    assert (actor.username, actor.role) == ("a.one", "navigator")
    creation = [e for e in _events(database_url, first.id, "create")]
    assert len(creation) == 1 and "password" not in (creation[0].after or "")
    assert json.loads(creation[0].after or "{}")["username"] == "a.one"


def test_wrong_password_and_unknown_user_get_the_same_refusal(database_url: str) -> None:
    user_id = _local(database_url)
    for username, password in (("nurse.k", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(SignInRefusedError) as refused:
            authenticate(database_url, username, password, now=T0)
        assert str(refused.value) == "Wrong username or password."
    user = _user(database_url, "nurse.k")
    assert user.failed_login_count == 1
    assert len(_events(database_url, user_id, "sign_in_refused")) == 1
    # Bookkeeping is not an edit of the account: an admin's open form stays valid.
    assert user.version == 1


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "x" * 1025,
        12345678901,
        " " * 10,
        "aaaaaaaaaa",
        "nurse.kelly",  # the username
        "Kelly Nurse1",  # the display name
        "password123",
        "qwertyuiop",
    ],
)
def test_unacceptable_passwords_are_refused_naming_the_field(
    database_url: str, password: object
) -> None:
    with pytest.raises(ValidationError, match=r"^password:"):
        _local(database_url, "nurse.kelly", display_name="Kelly Nurse", password=password)
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count(User.id))) == 0


def test_a_password_reset_refuses_a_password_easy_to_guess(
    database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    user_id = _local(database_url, "nurse.kelly")
    for weak in ("nurse.kelly", "aaaaaaaaaa", " " * 10):
        with pytest.raises(ValidationError, match=r"^password: is too easy to guess"):
            accounts.reset_password(contexts["admin"], user_id, 1, weak)
    assert authenticate(database_url, "nurse.kelly", PASSWORD, now=T0).user_id == user_id


# --- throttling ---------------------------------------------------------------------


def test_lockout_schedule_doubles_after_three_free_attempts_up_to_fifteen_minutes() -> None:
    assert [lockout_seconds(n) for n in range(9)] == [0, 0, 0, 5, 10, 20, 40, 80, 160]
    assert lockout_seconds(30) == 15 * 60


def test_lockout_reports_the_wait_and_refuses_even_the_right_password(database_url: str) -> None:
    _local(database_url)
    for attempt in range(3):
        with pytest.raises(SignInRefusedError) as refused:
            authenticate(database_url, "nurse.k", f"guess {attempt} wrong", now=T0)
    # The third failure starts a 5-second wait, and says so.
    assert "Try again in 5 seconds" in str(refused.value)
    with pytest.raises(SignInRefusedError, match=r"Try again in 4 seconds"):
        authenticate(database_url, "nurse.k", PASSWORD, now=T0 + dt.timedelta(seconds=1))
    with pytest.raises(SignInRefusedError, match=r"Try again in 1 seconds"):
        authenticate(database_url, "nurse.k", PASSWORD, now=T0 + dt.timedelta(seconds=4.5))
    # Attempts during the wait are not counted: the wait does not grow by itself.
    assert _user(database_url, "nurse.k").failed_login_count == 3
    actor = authenticate(database_url, "nurse.k", PASSWORD, now=T0 + dt.timedelta(seconds=5))
    assert actor.username == "nurse.k"
    user = _user(database_url, "nurse.k")
    assert user.failed_login_count == 0 and user.last_login_at is not None


def test_each_further_failure_doubles_the_wait(database_url: str) -> None:
    _local(database_url)
    now = T0
    waits = []
    for _ in range(6):
        with pytest.raises(SignInRefusedError):
            authenticate(database_url, "nurse.k", "wrong password!", now=now)
        with unit_of_work(database_url) as session:
            waits.append(accounts.seconds_until_retry(session, "nurse.k", now))
        now += dt.timedelta(seconds=waits[-1])  # wait exactly as long as told
    assert waits == [0, 0, 5, 10, 20, 40]


def test_parallel_guesses_cannot_slip_past_the_lockout(database_url: str) -> None:
    """Eight simultaneous wrong guesses: the attempts are counted one after another, so
    the lockout stops all but the three free ones from even being checked."""
    _local(database_url)
    barrier = threading.Barrier(8, timeout=30)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        barrier.wait()
        try:
            authenticate(database_url, "nurse.k", f"parallel guess {n}", now=T0)
        except SignInRefusedError as refused:
            outcomes.append(str(refused))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 8
    assert _user(database_url, "nurse.k").failed_login_count == 3
    assert sum("Try again in 5 seconds" in o for o in outcomes) == 6


# --- disabled and demo accounts -------------------------------------------------------


def test_a_disabled_account_answers_as_a_wrong_password_does(
    database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    """The right password of a disabled account must not be confirmed: the answers,
    and the waits, are those of wrong passwords."""
    user_id = _local(database_url)
    _local(database_url, "nurse.j")
    accounts.update_user(contexts["admin"], user_id, 1, {"is_active": False})

    def answers(username: str, password: str) -> list[str]:
        told = []
        for attempt in range(4):
            with pytest.raises(SignInRefusedError) as refused:
                authenticate(
                    database_url, username, password, now=T0 + dt.timedelta(seconds=attempt)
                )
            told.append(str(refused.value))
        return told

    disabled_right = answers("nurse.k", PASSWORD)
    assert disabled_right == answers("nurse.j", "wrong password!")
    assert disabled_right[0] == "Wrong username or password."
    assert not any("disabled" in answer for answer in disabled_right)
    assert signed_in_actor(database_url, user_id) is None
    assert _events(database_url, user_id, "sign_in") == []
    # The administrators see why; the trail does not say whether the password was right.
    refused = _events(database_url, user_id, "sign_in_refused")
    assert [e.reason for e in refused][:3] == ["the account is disabled"] * 3
    assert "right" not in " ".join(e.reason or "" for e in refused)


def test_demo_accounts_sign_in_only_in_demo_mode(database_url: str) -> None:
    user_id = create_user(
        database_url,
        SYSTEM_ACTOR,
        username="demo-chair",
        display_name="Dr Demo",
        role="chair",
        password="demo",
        is_demo=True,
    )
    with pytest.raises(SignInRefusedError, match="only when cupboard runs in demo mode"):
        authenticate(database_url, "demo-chair", "demo", now=T0)
    refused = _events(database_url, user_id, "sign_in_refused")
    assert len(refused) == 1 and "demo mode" in (refused[0].reason or "")
    assert authenticate(database_url, "demo-chair", "demo", now=T0, allow_demo=True).role == "chair"
    # A session opened in demo mode does not survive a restart outside it.
    assert signed_in_actor(database_url, user_id, allow_demo=True) is not None
    assert signed_in_actor(database_url, user_id, allow_demo=False) is None


def test_demo_account_refused_through_the_sign_in_form_when_demo_mode_is_off(
    open_page: Callable[..., object], database_url: str
) -> None:
    create_user(
        database_url,
        SYSTEM_ACTOR,
        username="demo-navigator",
        display_name="Demo Nurse",
        role="navigator",
        password="demo",
        is_demo=True,
    )
    app = open_page(role=None)  # the fixture runs with CUPBOARD_DEMO=0
    assert "demo-chair" not in repr(app.main)  # no demo accounts advertised
    app.text_input(key="sign_in_username").input("demo-navigator")  # type: ignore[attr-defined]
    app.text_input(key="sign_in_password").input("demo")  # type: ignore[attr-defined]
    app.button[0].click().run()  # type: ignore[attr-defined]
    assert [t.value for t in app.title] == ["cupboard"]  # type: ignore[attr-defined]
    assert any("demo mode" in e.value for e in app.error)  # type: ignore[attr-defined]


# --- role changes reach live sessions -------------------------------------------------


def test_role_change_and_deactivation_reach_a_signed_in_session(
    database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    user_id = _local(database_url)
    actor = authenticate(database_url, "nurse.k", PASSWORD, now=T0)
    accounts.update_user(contexts["admin"], user_id, 1, {"role": "viewer"})
    fresh = signed_in_actor(database_url, actor.user_id)
    assert fresh is not None and fresh.role == "viewer"
    accounts.update_user(contexts["admin"], user_id, 2, {"is_active": False})
    assert signed_in_actor(database_url, actor.user_id) is None


def test_update_user_validates_checks_the_version_and_protects_the_admin(
    database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    admin = contexts["admin"]
    user_id = _local(database_url)
    with pytest.raises(ValidationError, match=r"^is_active:"):
        accounts.update_user(admin, user_id, 1, {"is_active": "false"})
    with pytest.raises(ValidationError, match=r"^role:"):
        accounts.update_user(admin, user_id, 1, {"role": "superuser"})
    with pytest.raises(ValidationError, match=r"^password_hash:"):
        accounts.update_user(admin, user_id, 1, {"password_hash": "x"})
    assert _user(database_url, "nurse.k").version == 1
    accounts.update_user(admin, user_id, 1, {"role": "chair"})
    with pytest.raises(ConflictError) as conflict:
        accounts.update_user(admin, user_id, 1, {"role": "viewer"})
    assert "test-admin changed role" in str(conflict.value)
    assert _user(database_url, "nurse.k").role == "chair"
    own = admin.actor.user_id
    assert own is not None
    with pytest.raises(ValidationError, match=r"^is_active:"):
        accounts.update_user(admin, own, 1, {"is_active": False})
    with pytest.raises(ValidationError, match=r"^role:"):
        accounts.update_user(admin, own, 1, {"role": "viewer"})
    with pytest.raises(PermissionDeniedError, match="navigator may not manage users"):
        accounts.update_user(contexts["navigator"], user_id, 2, {"role": "admin"})


def test_password_reset_is_audited_without_the_hash_and_lifts_the_lockout(
    database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    user_id = _local(database_url)
    for _ in range(4):
        with pytest.raises(SignInRefusedError):
            authenticate(database_url, "nurse.k", "wrong password!", now=T0)
    old_hash = _user(database_url, "nurse.k").password_hash
    accounts.reset_password(contexts["admin"], user_id, 1, "a brand new passphrase")
    user = _user(database_url, "nurse.k")
    assert user.failed_login_count == 0 and user.password_hash != old_hash
    with pytest.raises(SignInRefusedError):
        authenticate(database_url, "nurse.k", PASSWORD, now=T0)
    assert authenticate(database_url, "nurse.k", "a brand new passphrase", now=T0).user_id == (
        user_id
    )
    [change] = [e for e in _events(database_url, user_id, "update")]
    assert change.field == "password_hash" and change.actor_username == "test-admin"
    assert json.loads(change.before or "") == json.loads(change.after or "") == "[redacted]"
    assert old_hash is not None and old_hash[20:] not in (change.before or "")
    with pytest.raises(ValidationError, match=r"^password:"):
        accounts.reset_password(contexts["admin"], user_id, 2, "short")


# --- OIDC ---------------------------------------------------------------------------


def _sso_user(url: str, username: str = "dr.ohm", **extra: object) -> int:
    fields: dict[str, object] = {
        "username": username,
        "display_name": "Dr Ohm",
        "role": "oncologist",
        "email": "Ohm@Hospital.example",
    }
    fields.update(extra)
    return create_user(url, SYSTEM_ACTOR, **fields)  # type: ignore[arg-type]


def test_oidc_first_sign_in_links_by_verified_email_then_maps_by_subject(
    database_url: str,
) -> None:
    user_id = _sso_user(database_url)
    actor = actor_for_oidc(database_url, "sub-123", "ohm@hospital.example")
    assert (actor.user_id, actor.role) == (user_id, "oncologist")
    assert _user(database_url, "dr.ohm").oidc_subject == "sub-123"
    [link] = _events(database_url, user_id, "update")
    assert link.field == "oidc_subject" and json.loads(link.after or "") == "sub-123"
    assert "first sign-in" in (link.reason or "")
    # From now on the subject decides, whatever email the provider sends.
    assert actor_for_oidc(database_url, "sub-123", "changed@else.example").user_id == user_id
    assert actor_for_oidc(database_url, "sub-123", None).user_id == user_id
    assert len(_events(database_url, user_id, "sign_in")) == 3


def test_oidc_maps_by_a_subject_the_admin_entered(database_url: str) -> None:
    user_id = _sso_user(database_url, email=None, oidc_subject="00u1abcd")
    assert actor_for_oidc(database_url, "00u1abcd", "someone@else.example").user_id == user_id


@pytest.mark.parametrize(
    ("subject", "email", "verified"),
    [
        ("sub-999", "stranger@hospital.example", True),  # nobody has this email
        ("sub-999", "ohm@hospital.example", False),  # email not verified by the provider
        ("", "ohm@hospital.example", True),  # no subject
    ],
)
def test_oidc_identity_without_an_account_is_refused(
    database_url: str, subject: str, email: str, verified: bool
) -> None:
    _sso_user(database_url)
    with pytest.raises(SignInRefusedError):
        actor_for_oidc(database_url, subject, email, email_verified=verified)
    assert _user(database_url, "dr.ohm").oidc_subject is None


def test_oidc_email_already_linked_to_another_subject_is_not_taken_over(
    database_url: str,
) -> None:
    _sso_user(database_url)
    actor_for_oidc(database_url, "sub-original", "ohm@hospital.example")
    with pytest.raises(SignInRefusedError):
        actor_for_oidc(database_url, "sub-impostor", "ohm@hospital.example")
    assert _user(database_url, "dr.ohm").oidc_subject == "sub-original"


def test_oidc_refuses_inactive_and_demo_accounts(
    database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    user_id = _sso_user(database_url, oidc_subject="sub-1")
    _sso_user(database_url, "demo-sso", email="demo@x.example", oidc_subject="sub-2", is_demo=True)
    with pytest.raises(SignInRefusedError):
        actor_for_oidc(database_url, "sub-2", None)
    assert actor_for_oidc(database_url, "sub-2", None, allow_demo=True).username == "demo-sso"
    accounts.update_user(contexts["admin"], user_id, 1, {"is_active": False})
    with pytest.raises(SignInRefusedError):
        actor_for_oidc(database_url, "sub-1", None)


def test_two_accounts_cannot_share_an_email(database_url: str) -> None:
    _sso_user(database_url)
    with pytest.raises(ValidationError, match=r"^email:"):
        _sso_user(database_url, "dr.ohm2", email="OHM@hospital.example")
    with pytest.raises(ValidationError, match=r"^email:"):
        _sso_user(database_url, "dr.ohm3", email="not an email")


IDP = {
    "client_id": "cupboard",
    "client_secret": "secret",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}
SHARED_AUTH = {
    "redirect_uri": "https://cupboard.example/oauth2callback",
    "cookie_secret": "test-cookie-secret",
}


def _sso_app(  # type: ignore[no-untyped-def]
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    claims: dict[str, object],
    auth: dict[str, object] | None = None,
):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CUPBOARD_DATABASE_URL", database_url)
    monkeypatch.setenv("CUPBOARD_DEMO", "0")
    app = AppTest.from_file(str(REPO_ROOT / "dashboard.py"), default_timeout=30)
    app.secrets["auth"] = auth if auth is not None else {**SHARED_AUTH, **IDP}
    app.user = claims
    return app.run()


def test_guard_signs_in_an_identity_provider_user_as_their_account(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sso_user(database_url)
    app = _sso_app(
        database_url,
        monkeypatch,
        {
            "is_logged_in": True,
            "sub": "sub-777",
            "email": "ohm@hospital.example",
            "email_verified": True,
        },
    )
    assert not app.exception
    assert [t.value for t in app.title] == ["MDT queue"]
    assert [t.value for t in app.sidebar.text] == ["Dr Ohm (oncologist)"]
    assert _user(database_url, "dr.ohm").oidc_subject == "sub-777"


def test_guard_refuses_an_unknown_identity_and_shows_no_board(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sso_user(database_url)
    app = _sso_app(
        database_url,
        monkeypatch,
        {
            "is_logged_in": True,
            "sub": "sub-x",
            "email": "ohm@hospital.example",
            "email_verified": "false",
        },
    )
    assert not app.exception
    assert [t.value for t in app.title] == ["cupboard"]
    assert any("not linked to an active cupboard account" in e.value for e in app.error)
    assert app.button(key="sso_sign_out") is not None
    assert _user(database_url, "dr.ohm").oidc_subject is None


def test_sign_in_page_offers_each_configured_provider(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cupboard.ui.guard._authlib_installed", lambda: True)
    auth = {**SHARED_AUTH, "okta": dict(IDP), "microsoft": dict(IDP)}
    app = _sso_app(database_url, monkeypatch, {"is_logged_in": False}, auth)
    assert not app.exception
    labels = sorted(b.label for b in app.button if b.key.startswith("sso_"))
    assert labels == ["Sign in with microsoft", "Sign in with okta"]
    assert app.text_input(key="sign_in_username") is not None  # local accounts still on
    monkeypatch.setenv("CUPBOARD_LOCAL_SIGN_IN", "0")
    app = _sso_app(database_url, monkeypatch, {"is_logged_in": False})
    assert [b.label for b in app.button] == ["Sign in with your organisation account"]
    assert len(app.text_input) == 0


def test_sign_in_page_says_when_single_sign_on_cannot_work(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cupboard.ui.guard._authlib_installed", lambda: False)
    app = _sso_app(database_url, monkeypatch, {"is_logged_in": False})
    assert not app.exception
    assert any("Authlib" in w.value for w in app.warning)
    assert not [b for b in app.button if b.key.startswith("sso_")]
    assert app.text_input(key="sign_in_username") is not None


# --- the first-admin command ----------------------------------------------------------


def _cli(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUPBOARD_DATABASE_URL": url, "CUPBOARD_DEMO": "0"}
    return subprocess.run(
        [sys.executable, "-m", "cupboard", "add-user", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_add_user_cli_creates_the_first_admin(database_url: str) -> None:
    result = _cli(
        database_url,
        "Chief.Admin",
        "--name",
        "Chief Admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin="an admin passphrase\n",
    )
    assert result.returncode == 0, result.stderr
    assert "created user Chief.Admin (admin)" in result.stdout
    actor = authenticate(database_url, "chief.admin", "an admin passphrase", now=T0)
    assert actor.role == "admin"
    [creation] = [e for e in _events(database_url, actor.user_id or 0, "create")]
    assert creation.actor_username == "system"


@pytest.mark.parametrize(
    ("args", "stdin", "field"),
    [
        (("--role", "wizard"), "an admin passphrase\n", "role"),
        (("--role", "admin"), "short\n", "password"),
        (("--role", "admin", "--email", "not-an-email"), "an admin passphrase\n", "email"),
    ],
)
def test_add_user_cli_refuses_bad_input_with_one_line_and_exit_2(
    database_url: str, args: tuple[str, ...], stdin: str, field: str
) -> None:
    result = _cli(
        database_url, "someone", "--name", "Some One", *args, "--password-stdin", stdin=stdin
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{field}:"), result.stderr
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count(User.id))) == 0
