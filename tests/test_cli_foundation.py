"""`python -m cupboard init-db` and `seed-demo` on a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.models import AgendaItem, Case, Decision, MdtMeeting, User

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUPBOARD_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cupboard", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_init_db_then_seed_demo_builds_a_living_board(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    assert _run("init-db", url=url).returncode == 0
    result = _run("seed-demo", "--cases", "50", url=url)
    assert result.returncode == 0, result.stderr
    assert "seeded 50 synthetic cases" in result.stdout
    with unit_of_work(url) as session:
        assert session.scalar(select(func.count(Case.id))) == 50
        statuses = set(session.scalars(select(Case.status)))
        assert {"ready_for_mdt", "decision_recorded"} & statuses
        assert session.scalar(select(func.count(Decision.id))) > 0
        upcoming = session.scalars(
            select(MdtMeeting.id).order_by(MdtMeeting.meeting_date.desc()).limit(2)
        ).all()
        queued = session.scalar(
            select(func.count(AgendaItem.id)).where(AgendaItem.meeting_id.in_(upcoming))
        )
        assert queued and queued >= 5
        assert session.scalar(select(func.count(User.id)).where(User.is_demo)) >= 6


def test_seed_demo_is_deterministic(tmp_path: Path) -> None:
    import datetime as dt

    from cupboard.db import upgrade_database
    from db.demo_cohort import seed_demo_cohort

    snapshots = []
    for n in range(2):
        url = f"sqlite:///{tmp_path / f'd{n}.sqlite3'}"
        upgrade_database(url)
        seed_demo_cohort(url, cases=25, seed=7, today=dt.date(2026, 11, 21))
        with unit_of_work(url) as session:
            snapshots.append(
                [
                    (c.status, c.pathway_start, tuple(c.metastatic_sites))
                    for c in session.scalars(select(Case).order_by(Case.id))
                ]
            )
    assert snapshots[0] == snapshots[1] and len(snapshots[0]) == 25


def test_seed_demo_refuses_a_bad_case_count(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.sqlite3'}"
    for bad in ("0", "-3", "1000001"):
        result = _run("seed-demo", "--cases", bad, url=url)
        assert result.returncode == 2
        assert result.stdout == ""
        assert "--cases" in result.stderr
