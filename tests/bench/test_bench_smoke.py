"""The benchmark machinery works end to end on a tiny cohort.

Not a speed test: speed is what ``python -m bench`` measures and reports. These only
check that the benchmark runs, reports every page it was asked for with positive
ratios, and that the concurrency run loses nothing and raises nothing unexpected.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from bench.concurrency import WRITES, run_on_fresh_database, summary
from bench.run import main, parse_arguments, run_benchmark


def test_page_benchmark_reports_each_page_against_the_trivial_page(tmp_path: Path) -> None:
    output = tmp_path / "latest.md"
    argv = [
        "--cases", "20", "--repeats", "2", "--backends", "sqlite",
        "--pages", "queue,case", "--sessions", "2", "--output", str(output),
    ]  # fmt: skip
    report, blocks = run_benchmark(parse_arguments(argv), "python -m bench (smoke)")

    assert len(blocks) == 1
    block = blocks[0]
    assert [p.spec.name for p in block.pages] == ["trivial", "queue", "case"]
    for timing in block.pages:
        assert timing.failures == [], timing.failures
        assert len(timing.samples_ms) == 2
        times = block.times_trivial(timing.median_ms)
        assert times > 0 and math.isfinite(times)
    assert block.status is not None and block.status.failures == []
    assert len(block.status.samples_ms) == 2
    # Its baseline: the trivial page rerun beside each change, in the same minutes.
    assert len(block.status.trivial_ms) == 2 and all(t > 0 for t in block.status.trivial_ms)
    status_times = block.status_times_trivial()
    assert status_times > 0 and math.isfinite(status_times)
    assert block.memory is not None and block.memory.sessions == 2
    assert block.peak_rss_mib > 0

    rows = [line for line in report.splitlines() if line.startswith("| ")]
    assert any(r.startswith("| trivial page (baseline) |") for r in rows)
    assert any(r.startswith("| queue |") for r in rows)
    assert any(r.startswith(f"| case (case_id={block.record_ids['case']}) |") for r in rows)
    assert any(r.startswith("| status change on the case page") for r in rows)
    ratios = [float(x) for x in re.findall(r"\| (\d+\.\d)× \|", report)]
    assert len(ratios) >= 4 and all(r > 0 for r in ratios)


def test_the_command_line_prints_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "results" / "latest.md"
    argv = [
        "--cases", "20", "--repeats", "1", "--backends", "sqlite", "--pages", "queue",
        "--sessions", "0", "--no-status-change", "--output", str(output),
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| queue |" in printed
    assert output.read_text(encoding="utf-8").strip() == printed.strip()


def test_concurrent_users_lose_no_write_and_raise_no_error() -> None:
    result = run_on_fresh_database("sqlite", cases=100, users=3, seconds=2)
    numbers = summary(result)

    assert numbers["operations"] > 0
    assert numbers["errors"] == 0, result.errors
    assert numbers["lost_writes"] == 0, result.verification.lost
    assert sum(numbers["expected"].values()) > 0
    for kind in WRITES:
        assert numbers["audited"][kind] == numbers["expected"][kind]
    assert result.verification.unexplained_audit_rows == 0
