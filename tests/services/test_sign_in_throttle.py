"""Failed sign-ins for usernames without an account are slowed down like a real
account's, so the answers do not tell which usernames exist (sign_in_throttles)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.models import AuditEvent, SignInThrottle, User
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import accounts
from cupboard.services.accounts import SignInRefusedError, authenticate, create_user
from cupboard.services.context import ServiceContext
from tests.support import run_in_threads

PASSWORD = "correct horse battery"
T0 = dt.datetime(2031, 3, 4, 9, 0, tzinfo=dt.UTC)
WRONG = "Wrong username or password."


def _too_many(seconds: int) -> str:
    return f"Too many failed sign-ins. Try again in {seconds} seconds."


def _local(url: str, username: str = "nurse.k") -> int:
    return create_user(
        url,
        SYSTEM_ACTOR,
        username=username,
        display_name="Nurse K",
        role="navigator",
        password=PASSWORD,
    )


def _sso_only(url: str, username: str = "dr.ohm") -> int:
    """An account that signs in through the identity provider: no password."""
    return create_user(
        url,
        SYSTEM_ACTOR,
        username=username,
        display_name="Dr Ohm",
        role="oncologist",
        email="ohm@hospital.example",
    )


def _refusal(
    url: str, username: str, password: str, now: dt.datetime, source: str | None = None
) -> str:
    with pytest.raises(SignInRefusedError) as refused:
        if source is None:  # as the command line and tests sign in: no address
            authenticate(url, username, password, now=now)
        else:
            authenticate(url, username, password, now=now, source=source)
    return str(refused.value)


def _throttles(url: str) -> list[SignInThrottle]:
    with unit_of_work(url) as session:
        return list(session.scalars(select(SignInThrottle).order_by(SignInThrottle.id)))


def _count_for(url: str, username: str, source: str | None = None) -> int | None:
    digest = accounts.throttle_key(username, source)
    with unit_of_work(url) as session:
        return session.scalar(
            select(SignInThrottle.failed_count).where(SignInThrottle.username_digest == digest)
        )


def _six_wrong_attempts(url: str, username: str) -> list[str]:
    """Six wrong passwords, each waiting exactly as long as told; during each wait
    one more attempt a second in (refused, not counted)."""
    answers = []
    now = T0
    for attempt in range(6):
        answer = _refusal(url, username, f"wrong guess {attempt}", now)
        answers.append(answer)
        told = re.search(r"Try again in (\d+) seconds", answer)
        if told:
            wait = int(told.group(1))
            answers.append(_refusal(url, username, PASSWORD, now + dt.timedelta(seconds=1)))
            now += dt.timedelta(seconds=wait)
    return answers


EXPECTED_SIX = [
    WRONG,
    WRONG,
    f"{WRONG} {_too_many(5)}",
    _too_many(4),
    f"{WRONG} {_too_many(10)}",
    _too_many(9),
    f"{WRONG} {_too_many(20)}",
    _too_many(19),
    f"{WRONG} {_too_many(40)}",
    _too_many(39),
]


@pytest.mark.parametrize("absent", ["no account", "no password"])
def test_an_unknown_username_gets_the_same_answers_as_a_real_account(
    database_url: str, absent: str
) -> None:
    _local(database_url, "nurse.k")
    if absent == "no password":
        _sso_only(database_url, "dr.ohm")
    other = "dr.ohm" if absent == "no password" else "nobody.here"

    real = _six_wrong_attempts(database_url, "nurse.k")
    unknown = _six_wrong_attempts(database_url, other)

    assert real == EXPECTED_SIX  # the real account behaves as it always did
    assert unknown == real
    # Attempts during a wait are not counted, for either.
    with unit_of_work(database_url) as session:
        counts = {
            row.username: row.failed_login_count
            for row in session.execute(select(User.username, User.failed_login_count))
        }
    assert counts["nurse.k"] == 6
    assert _count_for(database_url, "nurse.k") == 6
    assert _count_for(database_url, other) == 6
    # One throttle row each: the same machinery answers with and without an account.
    assert len(_throttles(database_url)) == 2


def test_an_unknown_username_waits_and_is_then_answered_again(database_url: str) -> None:
    for attempt in range(3):
        answer = _refusal(database_url, "ghost", f"guess {attempt}", T0)
    assert answer == f"{WRONG} {_too_many(5)}"

    assert _refusal(database_url, "ghost", "guess 3", T0 + dt.timedelta(seconds=2)) == (
        _too_many(3)
    )
    # Another spelling of the same username is the same username.
    assert _refusal(database_url, " GHOST ", "guess 4", T0 + dt.timedelta(seconds=4.5)) == (
        _too_many(1)
    )
    assert _count_for(database_url, "ghost") == 3  # refusals during the wait do not count

    after = _refusal(database_url, "ghost", "guess 5", T0 + dt.timedelta(seconds=5))
    assert after.startswith(WRONG)
    assert after == f"{WRONG} {_too_many(10)}"  # what a real account says at 4 failures
    assert _count_for(database_url, "ghost") == 4
    # Another unknown username is not slowed down by this one.
    assert _refusal(database_url, "ghost.two", "guess", T0 + dt.timedelta(seconds=5)) == WRONG


def test_the_typed_username_is_never_stored(database_url: str) -> None:
    typed = "  Nurse.K-Hunter2-Secret "  # a password typed into the username field
    normalised = typed.strip().lower()
    _refusal(database_url, typed, "whatever", T0)
    _refusal(database_url, normalised, "whatever", T0)

    [row] = _throttles(database_url)
    assert row.username_digest == accounts.throttle_key(normalised, None)
    assert row.username_digest[:32] == hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]
    assert row.failed_count == 2
    with unit_of_work(database_url) as session:
        stored = [
            str(value)
            for row_values in session.execute(select(SignInThrottle.__table__)).all()
            for value in row_values
        ]
    assert stored, "no row was read"
    for text in (typed, typed.strip(), normalised, "hunter2"):
        assert not any(text.lower() in value.lower() for value in stored), text


def test_rows_quiet_for_a_day_are_deleted_when_a_failure_is_counted(database_url: str) -> None:
    _refusal(database_url, "ghost.a", "guess", T0)
    for _ in range(2):
        _refusal(database_url, "ghost.b", "guess", T0)
    _refusal(database_url, "ghost.c", "guess", T0 + dt.timedelta(hours=23))
    assert len(_throttles(database_url)) == 3

    _refusal(database_url, "ghost.d", "guess", T0 + dt.timedelta(days=1, seconds=1))

    assert _count_for(database_url, "ghost.a") is None
    assert _count_for(database_url, "ghost.b") is None
    assert _count_for(database_url, "ghost.c") == 1
    assert _count_for(database_url, "ghost.d") == 1
    assert len(_throttles(database_url)) == 2

    # A username quiet for a day starts again at one failure.
    for _ in range(2):
        _refusal(database_url, "ghost.c", "guess", T0 + dt.timedelta(days=1))
    assert _count_for(database_url, "ghost.c") == 3
    later = T0 + dt.timedelta(days=2, hours=1)
    assert _refusal(database_url, "ghost.c", "guess", later) == WRONG
    assert _count_for(database_url, "ghost.c") == 1
    assert _count_for(database_url, "ghost.d") is None


class _SlowHasher:
    """The real hasher, with each verification held up: widens the window in which
    two sign-ins for the same username overlap."""

    def __init__(self, hasher: object, delay: float) -> None:
        self._hasher = hasher
        self._delay = delay

    def __getattr__(self, name: str) -> object:
        return getattr(self._hasher, name)

    def verify(self, hash: str, password: str) -> bool:
        time.sleep(self._delay)
        return bool(self._hasher.verify(hash, password))  # type: ignore[attr-defined]


def test_two_simultaneous_failures_for_an_unknown_username_are_both_counted(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "_hasher", _SlowHasher(accounts._hasher, 0.3))
    answers: list[str] = []

    def fail(n: int) -> None:
        answers.append(_refusal(database_url, "ghost", f"parallel guess {n}", T0))

    errors = run_in_threads(2, fail, start_together=True)

    assert errors == []
    assert answers == [WRONG, WRONG]
    assert _count_for(database_url, "ghost") == 2
    assert len(_throttles(database_url)) == 1


@pytest.mark.parametrize("username", ["nurse.k", "nobody.here"])
def test_parallel_guesses_are_counted_one_after_another_with_or_without_an_account(
    database_url: str, username: str
) -> None:
    """Eight simultaneous wrong guesses: three are counted, the others meet the wait,
    whether or not the account exists (as for accounts in test_accounts.py)."""
    _local(database_url, "nurse.k")
    answers: list[str] = []

    def guess(n: int) -> None:
        answers.append(_refusal(database_url, username, f"parallel guess {n}", T0))

    errors = run_in_threads(8, guess, start_together=True)

    assert errors == []
    assert sorted(answers) == sorted([WRONG, WRONG, f"{WRONG} {_too_many(5)}"] + [_too_many(5)] * 5)
    with unit_of_work(database_url) as session:
        account_failures = session.scalar(
            select(User.failed_login_count).where(User.username == "nurse.k")
        )
        rows = session.scalar(select(func.count(SignInThrottle.id)))
    assert (_count_for(database_url, username), rows) == (3, 1)
    assert account_failures == (3 if username == "nurse.k" else 0)


# --- every refusal is audited ---------------------------------------------------------


def _refused_rows(url: str) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "sign_in_refused")
                .order_by(AuditEvent.id)
            )
        )


@pytest.mark.parametrize("username", ["nurse.k", "nobody.here", "dr.ohm"])
def test_every_refused_sign_in_is_audited_also_during_a_wait(
    database_url: str, username: str
) -> None:
    _local(database_url, "nurse.k")
    sso_id = _sso_only(database_url, "dr.ohm")

    answers = _six_wrong_attempts(database_url, username)

    rows = _refused_rows(database_url)
    assert len(answers) == 10
    assert len(rows) == 10  # six counted failures and four refusals during a wait
    during_wait = [r for r in rows if "of the wait left" in (r.reason or "")]
    assert len(during_wait) == 4
    assert during_wait[0].reason == "3 failed sign-ins from this source; 4 s of the wait left"
    with unit_of_work(database_url) as session:
        nurse_id = session.scalar(select(User.id).where(User.username == "nurse.k"))
    expected = {
        "nurse.k": (nurse_id, "nurse.k", None),
        "dr.ohm": (sso_id, "dr.ohm", "the account signs in only through single sign-on"),
        "nobody.here": (
            None,
            "unknown:" + hashlib.sha256(b"nobody.here").hexdigest()[:12],
            "no account with this username",
        ),
    }[username]
    for row in rows:
        assert (row.actor_id, row.actor_username) == expected[:2]
        assert (row.entity, row.entity_id) == ("user", expected[0])
    assert {r.reason for r in rows if r not in during_wait} == {expected[2]}


def test_an_unknown_username_is_audited_by_a_short_digest_never_as_typed(
    database_url: str,
) -> None:
    typed = "  Hunter2-Secret-Pass "  # a password typed into the username field
    _refusal(database_url, typed, "whatever", T0)

    [row] = _refused_rows(database_url)
    digest = hashlib.sha256(typed.strip().lower().encode("utf-8")).hexdigest()
    assert row.actor_username == f"unknown:{digest[:12]}"
    assert row.actor_id is None
    with unit_of_work(database_url) as session:
        stored = " ".join(
            str(value)
            for values in session.execute(select(AuditEvent.__table__)).all()
            for value in values
        ).lower()
    assert "hunter2" not in stored and "secret" not in stored


# --- per account and source ------------------------------------------------------------

STRANGER = "203.0.113.9"
WARD = "10.20.30.40"


def test_a_stranger_guessing_from_elsewhere_does_not_lock_the_user_out(
    database_url: str, contexts: dict[str, ServiceContext]
) -> None:
    user_id = _local(database_url, "nurse.k")
    now = T0
    for attempt in range(8):
        answer = _refusal(database_url, "nurse.k", f"stranger guess {attempt}", now, STRANGER)
        told = re.search(r"Try again in (\d+) seconds", answer)
        now += dt.timedelta(seconds=int(told.group(1)) if told else 0)
    assert _count_for(database_url, "nurse.k", STRANGER) == 8
    now -= dt.timedelta(seconds=1)  # a second into the last wait
    assert _refusal(database_url, "nurse.k", PASSWORD, now, STRANGER) == _too_many(1)
    now -= dt.timedelta(seconds=100)
    assert _refusal(database_url, "nurse.k", PASSWORD, now, STRANGER) == _too_many(101)

    # The nurse, on the ward's computer, signs in at once with her password.
    actor = authenticate(database_url, "nurse.k", PASSWORD, now=now, source=WARD)
    assert actor.user_id == user_id
    # ... and the stranger's wait runs on.
    assert _refusal(database_url, "nurse.k", PASSWORD, now, STRANGER) == _too_many(101)

    # The users page shows the wait; a password reset lifts it for every source.
    [row] = [a for a in accounts.list_accounts(contexts["admin"], now) if a.id == user_id]
    assert row.locked_for_seconds == 101
    accounts.reset_password(contexts["admin"], user_id, 1, "a new ward passphrase")
    [row] = [a for a in accounts.list_accounts(contexts["admin"], now) if a.id == user_id]
    assert row.locked_for_seconds == 0
    assert _refusal(database_url, "nurse.k", PASSWORD, now, STRANGER) == WRONG


def test_a_wait_from_one_source_holds_for_the_right_password_from_that_source(
    database_url: str,
) -> None:
    _local(database_url, "nurse.k")
    for attempt in range(3):
        _refusal(database_url, "nurse.k", f"guess {attempt}", T0, WARD)
    assert _refusal(database_url, "nurse.k", PASSWORD, T0, WARD) == _too_many(5)
    assert _count_for(database_url, "nurse.k", WARD) == 3
    # Once signed in from there, that source starts afresh.
    authenticate(database_url, "nurse.k", PASSWORD, now=T0 + dt.timedelta(seconds=5), source=WARD)
    assert _count_for(database_url, "nurse.k", WARD) is None


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "source"),
    [
        ("198.51.100.7", None, "198.51.100.7"),
        # A client's own X-Forwarded-For is ignored when it talks to cupboard directly.
        ("198.51.100.7", "10.0.0.1", "198.51.100.7"),
        # Behind the proxy on this machine: the address the proxy appended, last.
        (None, "10.0.0.1, 192.0.2.44", "192.0.2.44"),
        (None, "192.0.2.44", "192.0.2.44"),
        (None, None, None),
        (None, " , ", None),
    ],
)
def test_the_source_of_a_sign_in(
    peer: str | None, forwarded_for: str | None, source: str | None
) -> None:
    assert accounts.sign_in_source(peer, forwarded_for) == source
