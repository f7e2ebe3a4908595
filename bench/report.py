"""The benchmark's results as a Markdown report (printed and written to a file)."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.page_timing import TRIVIAL, PageTiming
from bench.sessions import PLANNED_SESSIONS, SessionMemory
from bench.stats import median, ratio
from bench.status_change import StatusChangeTiming

REPO_ROOT = Path(__file__).resolve().parent.parent
# Targets from issue 8.
PAGE_TARGET = 10.0  # queue, case and meeting: median rerun ≤ 10× the trivial page's
TARGET_PAGES = ("queue", "case", "meeting")
STATUS_TARGET = 5.0  # a status change on the case page ≤ 5× the trivial page
GROWTH_TARGET = 1.5  # the largest cohort's median ≤ 1.5× the smallest cohort's
TARGET_CASES = 10_000  # the cohort size the page targets are judged at
MACHINE_MEMORY_GIB = 24
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Block:
    """Everything measured on one backend with one cohort size."""

    backend: str
    cases: int
    seed_report: str = ""
    record_ids: dict[str, int] = field(default_factory=dict)
    pages: list[PageTiming] = field(default_factory=list)
    status: StatusChangeTiming | None = None
    memory: SessionMemory | None = None
    peak_rss_mib: float = math.nan
    rss_mib: float = math.nan

    @property
    def title(self) -> str:
        return f"{BACKEND_NAMES.get(self.backend, self.backend)}, {self.cases:,} cases"

    @property
    def trivial(self) -> PageTiming | None:
        return next((p for p in self.pages if p.spec.name == TRIVIAL), None)

    def page(self, name: str) -> PageTiming | None:
        return next((p for p in self.pages if p.spec.name == name), None)

    def times_trivial(self, median_ms: float) -> float:
        trivial = self.trivial
        return ratio(median_ms, trivial.median_ms) if trivial else math.nan

    def status_times_trivial(self) -> float:
        """The status change over the trivial page reruns interleaved with its changes
        (same minutes, same machine load), else over the page table's trivial page."""
        status = self.status
        if status is None:
            return math.nan
        if status.trivial_ms:
            return ratio(status.median_ms, median(status.trivial_ms))
        return self.times_trivial(status.median_ms)


@dataclass
class RunInfo:
    command: str
    repeats: int
    started: dt.datetime
    finished: dt.datetime | None = None
    load_before: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    load_after: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    notes: list[str] = field(default_factory=list)


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def _x(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}×"


def _count(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f}"


def _verdict(value: float, limit: float) -> str:
    if math.isnan(value):
        return "not measured"
    return "ok" if value <= limit else "**MISSED**"


def machine_summary() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}"


def source_state() -> str:
    """The commit measured, and how many files differed from it (pages change fast)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "pages", "cupboard", "dashboard.py"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}, plus {len(changed)} changed or new files under pages/ and cupboard/"


def versions() -> str:
    import sqlalchemy
    import streamlit

    return (
        f"Python {platform.python_version()}, Streamlit {streamlit.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )


def _page_table(block: Block) -> list[str]:
    judged = block.cases >= TARGET_CASES
    lines = [
        "| page | shows | cold ms | median ms | p90 ms | × trivial | SQL / run | target "
        "| verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for timing in block.pages:
        name = timing.spec.name
        times = block.times_trivial(timing.median_ms)
        target, verdict = "", ""
        if name in TARGET_PAGES:
            target = f"≤ {PAGE_TARGET:g}×" + ("" if judged else " (at 10,000)")
            verdict = _verdict(times, PAGE_TARGET) if judged else ""
        if timing.failures:
            verdict = f"**FAILED** ({len(timing.failures)} runs)"
        label = "trivial page (baseline)" if name == TRIVIAL else timing.spec.label
        lines.append(
            f"| {label} | {timing.shows[:30].replace('|', '/')} | {_ms(timing.cold_ms)} | "
            f"{_ms(timing.median_ms)} | {_ms(timing.p90_ms)} | {_x(times)} | "
            f"{_count(timing.median_queries)} | {target} | {verdict} |"
        )
    status = block.status
    if status is not None:
        times = block.status_times_trivial()
        verdict = _verdict(times, STATUS_TARGET) if judged else ""
        if status.failures:
            verdict = f"**FAILED** ({len(status.failures)} changes)"
        target = f"≤ {STATUS_TARGET:g}×" + ("" if judged else " (at 10,000)")
        lines.append(
            f"| status change on the case page [{status.mode}] | | | "
            f"{_ms(status.median_ms)} | {_ms(status.p90_ms)} | {_x(times)} | | {target} | "
            f"{verdict} |"
        )
    return lines


def _block_section(block: Block) -> list[str]:
    lines = [f"### {block.title}", ""]
    lines.append(f"Seed: {block.seed_report}. ")
    if block.record_ids:
        lines.append(
            f"Opened: case_id={block.record_ids.get('case')}, "
            f"meeting_id={block.record_ids.get('meeting')} "
            f"({block.record_ids.get('agenda')} cases on its agenda)."
        )
    lines += ["", *_page_table(block), ""]
    status = block.status
    if status is not None:
        lines.append(f"Status change measured by: {status.mode} — {status.detail}.")
        if status.edit_ms:
            lines.append(
                f"The edit's own rerun, before the save: median {_ms(median(status.edit_ms))} ms."
            )
        if status.service_ms:
            lines.append(
                f"Of which the service call alone: median {_ms(median(status.service_ms))} ms."
            )
        if status.trivial_ms:
            lines.append(
                "Its ratio is to the trivial page rerun once before each change (median "
                f"{_ms(median(status.trivial_ms))} ms), so that both see the same minutes; "
                "to the table's trivial page it is "
                f"{_x(block.times_trivial(status.median_ms))}."
            )
        lines.append("")
    failures = [(t.spec.label, f) for t in block.pages for f in t.failures[:3]]
    if status is not None:
        failures += [("status change", f) for f in status.failures[:3]]
    if failures:
        lines.append("Failures:")
        lines += [f"- {page}: `{text}`" for page, text in failures]
        lines.append("")
    return lines


def _growth_section(blocks: Sequence[Block]) -> list[str]:
    lines: list[str] = []
    for backend in dict.fromkeys(b.backend for b in blocks):
        mine = sorted((b for b in blocks if b.backend == backend), key=lambda b: b.cases)
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        if not lines:
            lines = [
                f"## Growth: largest cohort / smallest cohort (target ≤ {GROWTH_TARGET:g}×)",
                "",
                "`growth` divides the medians; `growth of × trivial` divides each cohort's "
                "ratio to its own trivial baseline, which cancels drift in the machine's load "
                "between the two cohorts.",
                "",
                "| backend | page | median ms (small) | median ms (large) | growth | "
                "growth of × trivial | verdict |",
                "|---|---|---:|---:|---:|---:|---|",
            ]
        names = [p.spec.name for p in large.pages]
        rows = [(name, small.page(name), large.page(name)) for name in names]
        for name, before, after in rows:
            if before is None or after is None:
                continue
            growth = ratio(after.median_ms, before.median_ms)
            normalised = ratio(
                large.times_trivial(after.median_ms), small.times_trivial(before.median_ms)
            )
            verdict = "" if name == TRIVIAL else _verdict(growth, GROWTH_TARGET)
            label = f"{name} ({small.cases:,} → {large.cases:,})"
            lines.append(
                f"| {BACKEND_NAMES.get(backend, backend)} | {label} | "
                f"{_ms(before.median_ms)} | {_ms(after.median_ms)} | {_x(growth)} | "
                f"{_x(normalised)} | {verdict} |"
            )
        if small.status is not None and large.status is not None:
            before_ms, after_ms = small.status.median_ms, large.status.median_ms
            growth = ratio(after_ms, before_ms)
            normalised = ratio(large.status_times_trivial(), small.status_times_trivial())
            lines.append(
                f"| {BACKEND_NAMES.get(backend, backend)} | status change | "
                f"{_ms(before_ms)} | {_ms(after_ms)} | {_x(growth)} | {_x(normalised)} | "
                f"{_verdict(growth, GROWTH_TARGET)} |"
            )
    return [*lines, ""] if lines else []


def _memory_section(blocks: Sequence[Block]) -> list[str]:
    lines = [
        "## Memory",
        "",
        "Peak RSS is the benchmark process's high-water mark (VmHWM) after that block; "
        "seeding runs in a child process and is not included. Per session: K AppTest "
        "sessions of the page opened and kept alive, RSS after minus before, divided by K; "
        "and the Python heap they keep referenced (tracemalloc). This approximates a "
        "browser session's server-side memory (see bench/README.md).",
        "",
        "| backend | cases | peak RSS MiB | RSS now MiB | page | K | RSS MiB / session | "
        f"heap KiB / session | {PLANNED_SESSIONS} sessions MiB | fits {MACHINE_MEMORY_GIB} GiB? |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for block in blocks:
        memory = block.memory
        if memory is None:
            lines.append(
                f"| {BACKEND_NAMES.get(block.backend, block.backend)} | {block.cases:,} | "
                f"{_ms(block.peak_rss_mib)} | {_ms(block.rss_mib)} | – | – | – | – | – | – |"
            )
            continue
        total = block.peak_rss_mib + memory.planned_mib
        fits = "yes" if total < MACHINE_MEMORY_GIB * 1024 * 0.5 else "**NO**"
        lines.append(
            f"| {BACKEND_NAMES.get(block.backend, block.backend)} | {block.cases:,} | "
            f"{_ms(block.peak_rss_mib)} | {_ms(block.rss_mib)} | {memory.page} | "
            f"{memory.sessions} | {memory.rss_per_session_mib:.2f} | "
            f"{memory.python_heap_kib_per_session:.0f} | {memory.planned_mib:.0f} | {fits} |"
        )
    lines += [
        "",
        f"`{PLANNED_SESSIONS} sessions` is {PLANNED_SESSIONS} × the larger per-session "
        "estimate; `fits` asks whether peak RSS plus that stays under half the machine "
        "(the rest for PostgreSQL, the OS and headroom).",
        "",
    ]
    return lines


def missed_targets(blocks: Sequence[Block]) -> list[str]:
    missed = []
    for block in blocks:
        if block.cases < TARGET_CASES:
            continue
        for name in TARGET_PAGES:
            timing = block.page(name)
            if timing is None:
                continue
            times = block.times_trivial(timing.median_ms)
            if not times <= PAGE_TARGET:
                missed.append(
                    f"{block.title}: {name} page {_x(times)} trivial (≤ {PAGE_TARGET:g}×)"
                )
        if block.status is not None:
            times = block.status_times_trivial()
            if not times <= STATUS_TARGET:
                missed.append(
                    f"{block.title}: status change {_x(times)} trivial (≤ {STATUS_TARGET:g}×)"
                )
    for backend in dict.fromkeys(b.backend for b in blocks):
        mine = sorted((b for b in blocks if b.backend == backend), key=lambda b: b.cases)
        if len(mine) < 2:
            continue
        for timing in mine[-1].pages:
            before = mine[0].page(timing.spec.name)
            if timing.spec.name == TRIVIAL or before is None:
                continue
            growth = ratio(timing.median_ms, before.median_ms)
            if not growth <= GROWTH_TARGET:
                missed.append(
                    f"{BACKEND_NAMES.get(backend, backend)}: {timing.spec.name} grows "
                    f"{_x(growth)} from {mine[0].cases:,} to {mine[-1].cases:,} cases "
                    f"(≤ {GROWTH_TARGET:g}×)"
                )
    for block in blocks:
        for timing in block.pages:
            if timing.failures:
                missed.append(f"{block.title}: {timing.spec.label} failed: {timing.failures[0]}")
    return missed


def render(blocks: Sequence[Block], info: RunInfo) -> str:
    finished = info.finished or dt.datetime.now(dt.UTC)
    lines = [
        "# cupboard benchmark results",
        "",
        f"- Date: {info.started:%Y-%m-%d %H:%M} UTC "
        f"({(finished - info.started).total_seconds() / 60:.1f} min)",
        f"- Machine: {machine_summary()}",
        f"- Software: {versions()}",
        f"- Source: {source_state()}",
        f"- Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in info.load_before)}"
        f"; after: {', '.join(f'{x:.2f}' for x in info.load_after)}",
        f"- Command: `{info.command}`",
        f"- Each page: 1 cold run (not counted) then {info.repeats} reruns of the same AppTest, "
        "round robin over the pages; times are `AppTest.run()` wall time in ms. Scripts are "
        "compiled once per process, as `streamlit run` does (plain AppTest recompiles them "
        "on every run). `SQL / run`: statements sent per warm rerun.",
        "",
    ]
    lines += [f"> {note}" for note in info.notes]
    if info.notes:
        lines.append("")
    lines += ["## Page rerun times", ""]
    for block in blocks:
        lines += _block_section(block)
    lines += _growth_section(blocks)
    lines += _memory_section(blocks)
    missed = missed_targets(blocks)
    lines += ["## Targets missed", ""]
    lines += [f"- {m}" for m in missed] if missed else ["None."]
    lines.append("")
    return "\n".join(lines)
