"""A session left without a click is signed out; the sign-in form says why."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from cupboard.ui.guard import (
    ACTOR_KEY,
    ENV_IDLE_MINUTES,
    LAST_ACTIVITY_KEY,
    idle_timeout_minutes,
)


def _queue_after_idle(open_page: Callable[..., Any], minutes_idle: float) -> Any:
    app = open_page("pages/queue.py", role="navigator")
    assert [t.value for t in app.title] == ["MDT queue"]
    app.session_state[LAST_ACTIVITY_KEY] = time.time() - minutes_idle * 60
    return app.run()


def test_a_click_within_the_timeout_keeps_the_session_and_counts_as_activity(
    open_page: Callable[..., Any],
) -> None:
    app = _queue_after_idle(open_page, 29)
    assert not app.exception
    assert [t.value for t in app.title] == ["MDT queue"]
    assert time.time() - app.session_state[LAST_ACTIVITY_KEY] < 60


def test_after_the_timeout_the_next_click_signs_out_and_says_why(
    open_page: Callable[..., Any], make_case: Callable[..., int]
) -> None:
    make_case(name="Idle Patient", mrn="MRN-IDLE")
    app = _queue_after_idle(open_page, 31)
    assert not app.exception
    assert [t.value for t in app.title] == ["cupboard"]
    assert app.text_input(key="sign_in_username") is not None
    assert [i.value for i in app.info][:1] == [
        "You were signed out after 30 minutes without activity. Sign in again to continue."
    ]
    assert ACTOR_KEY not in app.session_state
    rendered = repr(app.main)
    assert "Idle Patient" not in rendered and "MRN-IDLE" not in rendered
    assert len(app.dataframe) == 0


def test_the_timeout_is_a_setting_and_zero_turns_it_off(
    open_page: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_IDLE_MINUTES, "5")
    assert [t.value for t in _queue_after_idle(open_page, 6).title] == ["cupboard"]
    monkeypatch.setenv(ENV_IDLE_MINUTES, "0")
    assert [t.value for t in _queue_after_idle(open_page, 600).title] == ["MDT queue"]


@pytest.mark.parametrize("value", ["-5", "half an hour", "1.5"])
def test_a_bad_setting_is_refused_naming_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_IDLE_MINUTES, value)
    with pytest.raises(ValueError, match=rf"^{ENV_IDLE_MINUTES}: give whole minutes"):
        idle_timeout_minutes()


def test_unset_means_thirty_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_IDLE_MINUTES, raising=False)
    assert idle_timeout_minutes() == 30
