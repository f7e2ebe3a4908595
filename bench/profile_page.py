"""``python -m bench.profile_page``: where one page's rerun spends its time.

Seeds a fresh database, opens the page in AppTest (signed in as a chair), runs it once
cold, then profiles ``--reruns`` warm reruns with cProfile (the script runs in
AppTest's script thread, so the profiler is switched on inside that thread through
``threading.setprofile``) and prints the functions with the most cumulative time, the
repository's own first, plus the SQL statements per rerun and the slowest of them.

    python -m bench.profile_page --cases 10000 --page queue,case
    python -m bench.profile_page --cases 10000 --page meeting --backend postgresql --sort tottime
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, event

from bench.databases import fresh_database, seed
from bench.fixtures import bench_actor, record_ids
from bench.page_timing import (
    TRIVIAL,
    PageSpec,
    open_app,
    page_specs,
    problem_of,
    server_script_cache,
)
from bench.run import app_environment, quiet_streamlit
from cupboard.permissions import Actor
from cupboard.services.context import ServiceContext

STATUS_CHANGE = "status-change"  # --page value: profile a status change on the case page


class _StatementTimer:
    """Total time per SQL statement text over the profiled reruns."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = defaultdict(list)
        self._starts: dict[int, float] = {}
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, cursor: Any, *_args: Any) -> None:
        self._starts[id(cursor)] = time.perf_counter()

    def _after(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        start = self._starts.pop(id(cursor), None)
        if start is not None:
            key = " ".join(statement.split())[:160]
            self.totals[key].append((time.perf_counter() - start) * 1000)

    def close(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)


def profile_pages(
    backend: str, cases: int, pages: Sequence[str], reruns: int, top: int, sort: str
) -> str:
    """Seed once, then profile each page in turn."""
    with (
        fresh_database(backend, label="profile") as url,
        app_environment(url),
        server_script_cache(),
    ):
        parts = [seed(url, cases)]
        actor = bench_actor(url)
        ids = record_ids(ServiceContext(url, actor))
        specs = page_specs([p for p in pages if p != STATUS_CHANGE], ids)
        parts += [profile_page(spec, actor, reruns, top, sort) for spec in specs]
        if STATUS_CHANGE in pages:
            parts.append(profile_status_change(url, actor, ids["case"], reruns, top, sort))
    return "\n".join(parts)


@contextlib.contextmanager
def _profiling_script_threads(profiler: cProfile.Profile) -> Iterator[None]:
    """Profile every thread started inside the block (AppTest's script threads)."""

    def enable(*_args: Any) -> None:
        sys.setprofile(None)  # this thread's hook, replaced by the profiler's own
        profiler.enable()

    threading.setprofile(enable)
    try:
        yield
    finally:
        threading.setprofile(None)


def profile_status_change(
    url: str, actor: Actor, case_id: int, changes: int, top: int, sort: str
) -> str:
    """Profile the reruns of ``changes`` status changes on the case page (edit + save)."""
    from bench.status_change import _change_in_editor, _Driver, _status_editor

    app = open_app(PageSpec("case", "pages/case.py", {"case_id": str(case_id)}), actor, 300)
    app.run()
    trivial = open_app(PageSpec(TRIVIAL, None), actor, 300)
    driver = _Driver(app, trivial)
    driver.run()
    ctx = ServiceContext(url, actor)
    if _status_editor(app) is None:
        return "status change: no data editor with a Status column on the case page"
    _change_in_editor(driver, ctx, case_id)
    profiler = cProfile.Profile()
    statements = _StatementTimer()
    saves: list[float] = []
    try:
        for _ in range(changes):
            with _profiling_script_threads(profiler):
                save_ms, _, how, problem = _change_in_editor(driver, ctx, case_id)
            if problem is not None:
                return f"status change failed: {how}: {problem}"
            saves.append(save_ms)
    finally:
        statements.close()
    header = (
        f"status change ({how}): save rerun {sum(saves) / len(saves):.1f} ms on average, "
        f"profiled; the profile covers every rerun of {changes} changes (edit, save and "
        "the untimed full redraws)"
    )
    return _render(header, profiler, statements, changes, top, sort)


def profile_page(spec: PageSpec, actor: Actor, reruns: int, top: int, sort: str) -> str:
    app = open_app(spec, actor, timeout=300)
    app.run()
    app.run()
    if (problem := problem_of(app)) is not None:
        return f"{spec.label} raised: {problem}"
    profiler = cProfile.Profile()
    statements = _StatementTimer()
    start = time.perf_counter()
    try:
        for _ in range(reruns):
            with _profiling_script_threads(profiler):
                app.run()
    finally:
        statements.close()
    elapsed = (time.perf_counter() - start) * 1000 / reruns
    header = f"{spec.label}: {elapsed:.1f} ms per profiled rerun ({reruns} reruns)"
    return _render(header, profiler, statements, reruns, top, sort)


def _render(
    header: str,
    profiler: cProfile.Profile,
    statements: _StatementTimer,
    reruns: int,
    top: int,
    sort: str,
) -> str:
    out = io.StringIO()
    print(f"{header}\n", file=out)
    stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
    print("== this repository's functions ==", file=out)
    stats.print_stats(r"/(cupboard|pages|db)/", top)
    print("== everything ==", file=out)
    stats.print_stats(top)
    count = sum(len(v) for v in statements.totals.values())
    print(f"== SQL: {count / reruns:.0f} statements per run; slowest in total ==", file=out)
    ranked = sorted(statements.totals.items(), key=lambda kv: -sum(kv[1]))
    for text, times in ranked[:top]:
        print(
            f"{sum(times) / reruns:8.2f} ms/run  {len(times) / reruns:6.1f}×/run  {text}",
            file=out,
        )
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_page")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--page",
        default="queue",
        help=f"screens' url paths, e.g. queue,case; {STATUS_CHANGE} for the status change",
    )
    parser.add_argument("--reruns", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="pstats sort key, e.g. tottime")
    arguments = parser.parse_args(argv)
    quiet_streamlit()
    print(
        profile_pages(
            arguments.backend,
            arguments.cases,
            [p.strip() for p in arguments.page.split(",") if p.strip()],
            arguments.reruns,
            arguments.top,
            arguments.sort,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
