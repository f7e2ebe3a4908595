"""Server-side memory per browser session, approximated with AppTest sessions.

Each AppTest holds what a Streamlit server keeps per browser tab: its session state
(widget values, the signed-in user, anything a page caches there) and the result of
its last run. It also holds the parsed element tree, which a real server does not
keep (it streams the messages to the browser), and lacks the server's per-session
websocket and message buffers; so the number is an approximation, not a measurement
of ``streamlit run``.
"""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass

from streamlit.testing.v1 import AppTest

from bench.memory import settled_rss_mib
from bench.page_timing import PageSpec, open_app, problem_of
from cupboard.permissions import Actor

PLANNED_SESSIONS = 50


@dataclass(frozen=True)
class SessionMemory:
    page: str
    sessions: int
    rss_before_mib: float
    rss_after_mib: float
    python_heap_kib_per_session: float  # tracemalloc: allocations still referenced
    failures: tuple[str, ...]

    @property
    def rss_per_session_mib(self) -> float:
        return (self.rss_after_mib - self.rss_before_mib) / self.sessions

    @property
    def planned_mib(self) -> float:
        """RSS for ``PLANNED_SESSIONS`` sessions at the larger of the two estimates."""
        per_session = max(self.rss_per_session_mib, self.python_heap_kib_per_session / 1024)
        return PLANNED_SESSIONS * per_session


def _open_sessions(
    spec: PageSpec, actor: Actor, sessions: int, timeout: float, failures: list[str]
) -> list[AppTest]:
    alive = []
    for number in range(sessions):
        app = open_app(spec, actor, timeout).run()
        if (problem := problem_of(app)) is not None:
            failures.append(f"session {number + 1}: {problem}")
        alive.append(app)
    return alive


def measure_session_memory(
    spec: PageSpec, actor: Actor, sessions: int = 10, timeout: float = 120
) -> SessionMemory:
    """RSS before and after opening ``sessions`` sessions of a page, all kept alive;
    then, separately (tracemalloc's own bookkeeping would inflate RSS), the Python
    heap those sessions keep referenced."""
    warm = open_app(spec, actor, timeout).run()  # imports and process-wide caches
    warm.run()
    del warm
    failures: list[str] = []
    before = settled_rss_mib()
    alive = _open_sessions(spec, actor, sessions, timeout, failures)
    after = settled_rss_mib()
    del alive
    settled_rss_mib()
    tracemalloc.start()
    heap_before = tracemalloc.get_traced_memory()[0]
    alive = _open_sessions(spec, actor, sessions, timeout, failures)
    settled_rss_mib()
    heap_after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del alive
    return SessionMemory(
        page=spec.label,
        sessions=sessions,
        rss_before_mib=before,
        rss_after_mib=after,
        python_heap_kib_per_session=(heap_after - heap_before) / 1024 / sessions,
        failures=tuple(failures),
    )
