"""Cached reads (cupboard/ui/cache.py): a write anywhere throws them away; nothing
else does; the permission is checked on every call; each read has its own entries."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import plotly.graph_objects as go
import pytest
import streamlit as st
from sqlalchemy import Engine, text

from cupboard.db import get_engine
from cupboard.errors import PermissionDeniedError
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import case_record
from cupboard.services.accounts import create_user
from cupboard.services.context import ServiceContext
from cupboard.services.performance import record_ecog
from cupboard.services.workup import update_investigation
from cupboard.ui import case_panels
from cupboard.ui.cache import DATA_VERSION_WINDOW, cached_read, data_version


@pytest.fixture(autouse=True)
def empty_streamlit_cache() -> Iterator[None]:
    # PostgreSQL tests share one URL and restart audit ids: see tests/pages/conftest.py.
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def test_every_write_changes_the_data_version_and_a_read_does_not(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nav = contexts["navigator"]
    url = nav.database_url
    case_id = make_case()
    before = data_version(url)
    rows = case_record.workup(nav, case_id)  # reads leave it alone
    assert data_version(url) == before
    update_investigation(nav, rows[0].investigation_id, rows[0].version, {"status": "requested"})
    after = data_version(url)
    assert after > before
    make_case()
    assert data_version(url) > after


def test_an_empty_audit_trail_is_version_zero(database_url: str) -> None:
    assert data_version(database_url) == 0


def _insert_audit_row(connection: object) -> None:
    connection.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO audit_events (occurred_at, actor_username, action, entity) "
            "VALUES (CURRENT_TIMESTAMP, 'tester', 'create', 'case')"
        )
    )


def test_a_write_that_commits_after_a_later_one_still_changes_the_version(
    backend: str, database_url: str
) -> None:
    """On PostgreSQL ids are taken at insert, not at commit: the highest id alone would
    not move when the earlier transaction commits last."""
    if backend != "postgresql":
        pytest.skip("SQLite writers take turns (BEGIN IMMEDIATE): ids commit in order")
    engine = get_engine(database_url)
    with engine.begin() as connection:
        for _ in range(DATA_VERSION_WINDOW + 5):  # a full window before the race
            _insert_audit_row(connection)
    slow = engine.connect()
    slow_transaction = slow.begin()
    _insert_audit_row(slow)  # takes the next id, not committed yet
    with engine.begin() as fast:
        _insert_audit_row(fast)  # takes a higher id and commits first
    seen, highest_seen = data_version(database_url), _highest_id(engine)
    slow_transaction.commit()
    slow.close()
    assert _highest_id(engine) == highest_seen  # the maximum alone would miss it
    assert data_version(database_url) != seen


def _highest_id(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT max(id) FROM audit_events")).scalar_one())


def test_a_cached_read_runs_once_until_someone_writes(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nav, onc = contexts["navigator"], contexts["oncologist"]
    other_nav = _another(nav)
    case_id = make_case()
    calls: list[int] = []

    @cached_read()
    def statuses(ctx: ServiceContext, case_id: int) -> dict[str, str]:
        calls.append(case_id)
        return {r.code: r.status for r in case_record.workup(ctx, case_id)}

    first = statuses(nav, case_id)
    assert statuses(nav, case_id) == first
    assert statuses(other_nav, case_id=case_id) == first  # shared by users of a role
    assert calls == [case_id]
    row = case_record.workup(onc, case_id)[0]
    update_investigation(onc, row.investigation_id, row.version, {"status": "requested"})
    fresh = statuses(nav, case_id)
    assert calls == [case_id, case_id]
    assert fresh[row.code] == "requested" != first[row.code]


def test_the_permission_is_checked_even_on_a_cache_hit(
    contexts: dict[str, ServiceContext],
) -> None:
    @cached_read(action="update_investigation")
    def secret(ctx: ServiceContext) -> str:
        return "for clinicians"

    assert secret(contexts["navigator"]) == "for clinicians"
    with pytest.raises(PermissionDeniedError):
        secret(contexts["viewer"])


def test_per_user_reads_keep_each_users_answer(contexts: dict[str, ServiceContext]) -> None:
    @cached_read(per_user=True)
    def who(ctx: ServiceContext) -> str:
        return ctx.actor.username

    assert who(contexts["navigator"]) == "test-navigator"
    assert who(contexts["chair"]) == "test-chair"


def test_two_reads_with_the_same_arguments_do_not_share_entries(
    contexts: dict[str, ServiceContext],
) -> None:
    """st.cache_data would key both by the one inner function they share."""

    @cached_read()
    def one(ctx: ServiceContext, n: int) -> str:
        return f"one {n}"

    @cached_read()
    def two(ctx: ServiceContext, n: int) -> str:
        return f"two {n}"

    nav = contexts["navigator"]
    assert (one(nav, 1), two(nav, 1), one(nav, 1)) == ("one 1", "two 1", "one 1")


def _another(ctx: ServiceContext) -> ServiceContext:
    """A second signed-in user with the same role."""
    role = ctx.actor.role
    user_id = create_user(
        ctx.database_url,
        SYSTEM_ACTOR,
        username=f"second-{role}",
        display_name=f"Second {role.title()}",
        role=role,
        email=f"second-{role}@example.invalid",
    )
    return ServiceContext(ctx.database_url, replace(ctx.actor, user_id=user_id))


def test_each_role_has_its_own_entries(contexts: dict[str, ServiceContext]) -> None:
    """A read that shows a chair more than a navigator must never hand the chair's answer
    to the navigator, even if it forgot to say per_user."""
    calls: list[str] = []

    @cached_read()
    def shown_to(ctx: ServiceContext) -> str:
        calls.append(ctx.actor.role)
        return f"what a {ctx.actor.role} may see"

    assert shown_to(contexts["chair"]) == "what a chair may see"
    assert shown_to(contexts["navigator"]) == "what a navigator may see"
    assert shown_to(contexts["chair"]) == "what a chair may see"
    assert calls == ["chair", "navigator"]


def test_every_caller_gets_its_own_copy_figures_included(
    contexts: dict[str, ServiceContext],
) -> None:
    built: list[int] = []

    @cached_read()
    def report(ctx: ServiceContext) -> dict[str, Any]:
        built.append(1)
        figure = go.Figure(go.Bar(x=["seen", "waiting"], y=[3, 4]))
        figure.update_layout(title_text="Cases")
        return {"counts": [3, 4], "figure": figure}

    nav = contexts["navigator"]
    other_nav = _another(nav)
    first = report(nav)
    first["counts"].append(5)
    first["figure"].update_layout(title_text="Changed by one page")
    first["figure"].add_trace(go.Scatter(x=["seen"], y=[1]))
    first["figure"].data[0].marker.color = "red"

    second = report(other_nav)
    assert built == [1]  # the same entry ...
    assert second["counts"] == [3, 4]  # ... untouched by what the first caller did
    assert second["figure"] is not first["figure"]
    assert second["figure"].layout.title.text == "Cases"
    assert len(second["figure"].data) == 1 and second["figure"].data[0].marker.color is None
    assert second["figure"].to_dict() == report(nav)["figure"].to_dict()


def test_a_changed_ecog_chart_leaves_the_next_users_chart_alone(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    oncologist = contexts["oncologist"]
    case_id = make_case()
    record_ecog(oncologist, case_id, score=1, observed_on=dt.date.today())
    record = case_record.case_record(oncologist, case_id)

    first = case_panels.ecog_chart_figure(record, height=360, font_size=14)
    before = first.to_dict()
    first.update_layout(title_text="Changed in one session", height=100)
    first.data[0].y = (4,)
    first.add_trace(go.Scatter(x=[dt.date.today()], y=[2]))

    second = case_panels.ecog_chart_figure(record, height=360, font_size=14)
    assert second is not first
    assert second.to_dict() == before


def test_sessions_reading_at_once_get_the_same_answer(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()

    @cached_read()
    def codes(ctx: ServiceContext, case_id: int) -> list[str]:
        return sorted(r.code for r in case_record.workup(ctx, case_id))

    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(codes(contexts["viewer"], case_id)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r == results[0] for r in results) and results[0]
