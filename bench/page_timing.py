"""Script-run time of each page in Streamlit's AppTest, against a trivial page.

Each page gets its own AppTest (its own session state), signed in as the chair. The
first run is the cold one (imports, migrations check, caches) and is reported apart;
then every page is rerun ``repeats`` times, round robin, so that noise from other work
on the machine falls on all pages alike, the trivial baseline included.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from streamlit.testing.v1 import AppTest

from bench.stats import median, percentile
from cupboard.permissions import Actor, may
from cupboard.ui.guard import ACTOR_KEY
from cupboard.ui.navigation import SCREENS

REPO_ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = REPO_ROOT / "dashboard.py"
TRIVIAL_PAGE = Path(__file__).resolve().parent / "trivial_page.py"
TRIVIAL = "trivial"
BENCH_ROLE = "chair"
# Pages opened on one record: the query parameter that names it.
RECORD_PARAMETERS = {"case": "case_id", "meeting": "meeting_id"}


@dataclass(frozen=True)
class PageSpec:
    """A page to measure: its name (the screen's url path), file and query string."""

    name: str
    script: str | None  # relative to dashboard.py; None for the trivial page
    query: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        detail = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.name} ({detail})" if detail else self.name


class QueryCounter:
    """Counts SQL statements sent by any engine in the process (one page runs at a
    time, so the count between two reads belongs to that run)."""

    def __init__(self) -> None:
        self.count = 0
        event.listen(Engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._count)


@dataclass
class PageTiming:
    spec: PageSpec
    cold_ms: float = float("nan")
    samples_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)  # SQL statements per warm rerun
    failures: list[str] = field(default_factory=list)
    shows: str = ""  # the page's first title, to show that the right page ran

    @property
    def median_queries(self) -> float:
        return median(self.queries)

    @property
    def median_ms(self) -> float:
        return median(self.samples_ms)

    @property
    def p90_ms(self) -> float:
        return percentile(self.samples_ms, 0.9)


@contextlib.contextmanager
def server_script_cache() -> Iterator[None]:
    """Compile each script once per process, as ``streamlit run`` does (its Runtime
    holds one ScriptCache for every session). AppTest makes a new cache on every run,
    so without this each rerun would also pay for recompiling dashboard.py and the
    page, a cost that grows with the page's length and that no real rerun pays."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    saved = app_test.ScriptCache, local_script_runner.ScriptCache
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        app_test.ScriptCache, local_script_runner.ScriptCache = saved  # type: ignore[misc]


def default_page_names(role: str = BENCH_ROLE) -> list[str]:
    """Every screen the role may open, in the order of the navigation."""
    return [s.url_path for s in SCREENS if may(role, s.action)]


def page_specs(names: Sequence[str], record_ids: dict[str, int]) -> list[PageSpec]:
    """Specs for screens by url path; case and meeting open a real record."""
    by_name = {s.url_path: s for s in SCREENS}
    specs = []
    for name in names:
        if name not in by_name:
            known = ", ".join(by_name)
            raise ValueError(f"unknown page {name!r} (pages: {known})")
        query = {}
        if name in RECORD_PARAMETERS and name in record_ids:
            query[RECORD_PARAMETERS[name]] = str(record_ids[name])
        specs.append(PageSpec(name, f"pages/{by_name[name].file}", query))
    return specs


def open_app(spec: PageSpec, actor: Actor, timeout: float) -> AppTest:
    """An AppTest for the page, signed in as ``actor``, not yet run."""
    if spec.script is None:
        return AppTest.from_file(str(TRIVIAL_PAGE), default_timeout=timeout)
    app = AppTest.from_file(str(DASHBOARD), default_timeout=timeout)
    app.session_state[ACTOR_KEY] = actor
    app.switch_page(spec.script)
    for key, value in spec.query.items():
        app.query_params[key] = value
    return app


def problem_of(app: AppTest) -> str | None:
    """What went wrong in the last run, if anything (an exception, or signed out)."""
    if app.exception:
        return app.exception[0].message.splitlines()[0][:200]
    return None


def timed_run(app: AppTest) -> float:
    """Milliseconds of one ``AppTest.run()``: the script run plus AppTest's own
    bookkeeping, which the trivial page pays too."""
    start = time.perf_counter()
    app.run()
    return (time.perf_counter() - start) * 1000


def first_title(app: AppTest) -> str:
    titles = [t.value for t in app.title]
    if titles:
        return str(titles[0])
    markdown = [m.value for m in app.markdown]
    return str(markdown[0])[:40] if markdown else ""


def measure_pages(
    specs: Sequence[PageSpec], actor: Actor, repeats: int, timeout: float = 120
) -> list[PageTiming]:
    """Cold run of each page, then ``repeats`` warm reruns each, round robin."""
    counter = QueryCounter()
    try:
        return _measure_pages(specs, actor, repeats, timeout, counter)
    finally:
        counter.close()


def _measure_pages(
    specs: Sequence[PageSpec], actor: Actor, repeats: int, timeout: float, counter: QueryCounter
) -> list[PageTiming]:
    apps: list[AppTest] = []
    timings: list[PageTiming] = []
    for spec in specs:
        app = open_app(spec, actor, timeout)
        timing = PageTiming(spec)
        timing.cold_ms = timed_run(app)
        timing.shows = first_title(app)
        if (problem := problem_of(app)) is not None:
            timing.failures.append(f"cold run: {problem}")
        apps.append(app)
        timings.append(timing)
    for repeat in range(repeats):
        shift = repeat % len(apps)
        for index in list(range(shift, len(apps))) + list(range(shift)):
            app, timing = apps[index], timings[index]
            queries_before = counter.count
            timing.samples_ms.append(timed_run(app))
            timing.queries.append(counter.count - queries_before)
            if (problem := problem_of(app)) is not None:
                timing.failures.append(f"rerun {repeat + 1}: {problem}")
    return timings
