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
from cupboard.models import SignInThrottle, User
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import accounts
from cupboard.services.accounts import SignInRefusedError, authenticate, create_user
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


def _refusal(url: str, username: str, password: str, now: dt.datetime) -> str:
    with pytest.raises(SignInRefusedError) as refused:
        authenticate(url, username, password, now=now)
    return str(refused.value)


def _throttles(url: str) -> list[SignInThrottle]:
    with unit_of_work(url) as session:
        return list(session.scalars(select(SignInThrottle).order_by(SignInThrottle.id)))


def _count_for(url: str, username: str) -> int | None:
    digest = hashlib.sha256(username.encode()).hexdigest()
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
    assert _count_for(database_url, other) == 6
    # A real account's failures are kept on the account, not in the throttle table.
    assert len(_throttles(database_url)) == 1


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
    assert row.username_digest == hashlib.sha256(normalised.encode("utf-8")).hexdigest()
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
    if username == "nurse.k":
        assert (account_failures, rows) == (3, 0)
    else:
        assert (account_failures, _count_for(database_url, username)) == (0, 3)
