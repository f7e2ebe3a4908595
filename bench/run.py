"""``python -m bench``: seed, open every page in AppTest, time reruns, report.

    python -m bench                                  # 1,000 and 10,000 cases, both backends
    python -m bench --cases 200 --repeats 5 --backends sqlite --pages queue,case

Progress goes to stderr; the report to stdout and to ``--output``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.databases import BACKENDS, fresh_database, postgres_problem, seed
from bench.fixtures import bench_actor, record_ids
from bench.memory import current_rss_mib, peak_rss_mib
from bench.page_timing import (
    TRIVIAL,
    PageSpec,
    default_page_names,
    measure_pages,
    page_specs,
    server_script_cache,
)
from bench.report import Block, RunInfo, missed_targets, render
from bench.sessions import measure_session_memory
from bench.status_change import measure_status_change
from cupboard.db import ENV_DATABASE_URL
from cupboard.services.context import ServiceContext
from cupboard.startup import ENV_DEMO
from cupboard.ui.navigation import SCREENS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "latest.md"


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give one or more case counts, each at least 1")
    return values


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=_int_list, default=[1000, 10000], help="1000,10000")
    parser.add_argument(
        "--backends", type=_name_list, default=list(BACKENDS), help="sqlite,postgresql"
    )
    parser.add_argument("--repeats", type=int, default=15, help="warm reruns per page")
    parser.add_argument(
        "--pages",
        type=_name_list,
        default=None,
        help="url paths of screens (default: every screen the chair may open)",
    )
    parser.add_argument("--sessions", type=int, default=10, help="K sessions for memory; 0 skips")
    parser.add_argument("--no-status-change", action="store_true", help="skip that measurement")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per script run")
    parser.add_argument(
        "--recompile",
        action="store_true",
        help="recompile the scripts on every run, as plain AppTest does (default: compile "
        "once per process, as streamlit run does)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args(argv)
    if arguments.repeats < 1:
        parser.error("--repeats must be at least 1")
    screens = [s.url_path for s in SCREENS]
    unknown_pages = [p for p in arguments.pages or () if p not in screens]
    if unknown_pages:
        parser.error(
            f"unknown page(s) {', '.join(unknown_pages)}; choose from {', '.join(screens)}"
        )
    unknown = [b for b in arguments.backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    return arguments


def _progress(message: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@contextmanager
def app_environment(url: str) -> Iterator[None]:
    """Point the app at the benchmark database, demo mode off (as in production)."""
    saved = {key: os.environ.get(key) for key in (ENV_DATABASE_URL, ENV_DEMO)}
    os.environ[ENV_DATABASE_URL] = url
    os.environ[ENV_DEMO] = "0"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _not_bare_mode_noise(record: logging.LogRecord) -> bool:
    return "missing ScriptRunContext" not in record.getMessage()


def quiet_streamlit() -> None:
    """Setting session state before AppTest's first run warns once per session; a
    filter (Streamlit resets log levels when its config changes)."""
    logger = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    if _not_bare_mode_noise not in logger.filters:
        logger.addFilter(_not_bare_mode_noise)


def measure_block(
    backend: str,
    cases: int,
    page_names: Sequence[str],
    repeats: int,
    sessions: int,
    status_change: bool,
    timeout: float,
) -> Block:
    """Seed a fresh database and measure everything on it; the database is dropped."""
    block = Block(backend, cases)
    with fresh_database(backend) as url, app_environment(url):
        _progress(f"{block.title}: seeding")
        block.seed_report = seed(url, cases)
        _progress(f"{block.title}: {block.seed_report}")
        actor = bench_actor(url)
        block.record_ids = record_ids(ServiceContext(url, actor))
        specs = [PageSpec(TRIVIAL, None), *page_specs(page_names, block.record_ids)]
        _progress(f"{block.title}: {len(specs)} pages × {repeats} reruns")
        block.pages = measure_pages(specs, actor, repeats, timeout)
        if status_change:
            _progress(f"{block.title}: status change on the case page × {repeats}")
            block.status = measure_status_change(
                url, actor, block.record_ids["case"], repeats, timeout
            )
        if sessions > 0:
            _progress(f"{block.title}: memory of {sessions} queue sessions")
            queue = page_specs(["queue"], block.record_ids)[0]
            block.memory = measure_session_memory(queue, actor, sessions, timeout)
        block.peak_rss_mib = peak_rss_mib()
        block.rss_mib = current_rss_mib()
    return block


def run_benchmark(arguments: argparse.Namespace, command: str) -> tuple[str, list[Block]]:
    quiet_streamlit()
    info = RunInfo(command=command, repeats=arguments.repeats, started=dt.datetime.now(dt.UTC))
    info.load_before = os.getloadavg()
    page_names = arguments.pages or default_page_names()
    if arguments.recompile:
        info.notes.append("--recompile: every run recompiled its scripts (plain AppTest).")
    blocks: list[Block] = []
    with contextlib.ExitStack() as stack:
        if not arguments.recompile:
            stack.enter_context(server_script_cache())
        _measure_all(arguments, page_names, info, blocks)
    info.load_after = os.getloadavg()
    info.finished = dt.datetime.now(dt.UTC)
    return render(blocks, info), blocks


def _measure_all(
    arguments: argparse.Namespace, page_names: Sequence[str], info: RunInfo, blocks: list[Block]
) -> None:
    for backend in arguments.backends:
        if backend == "postgresql" and (problem := postgres_problem()) is not None:
            note = f"PostgreSQL skipped: not reachable ({problem})."
            _progress(note)
            info.notes.append(note)
            continue
        for cases in arguments.cases:
            blocks.append(
                measure_block(
                    backend,
                    cases,
                    page_names,
                    arguments.repeats,
                    arguments.sessions,
                    not arguments.no_status_change,
                    arguments.timeout,
                )
            )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    report, blocks = run_benchmark(arguments, command.strip())
    print(report)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report, encoding="utf-8")
    _progress(f"report written to {arguments.output}")
    failed = [m for m in missed_targets(blocks) if " failed: " in m]
    return 1 if failed else 0
