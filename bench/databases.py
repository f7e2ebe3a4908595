"""Fresh benchmark databases: a SQLite file, or a PostgreSQL schema dropped afterwards.

Same recipe as ``tests/conftest.py``: PostgreSQL at ``CUPBOARD_BENCH_POSTGRES_URL``
(default: the local server, database ``test``), one new schema per run reached through
``search_path``, so nothing outside it is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from cupboard.db import get_engine

REPO_ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get(
    "CUPBOARD_BENCH_POSTGRES_URL",
    os.environ.get(
        "CUPBOARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)


def postgres_problem() -> str | None:
    """None when PostgreSQL answers; otherwise why not."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # the reason is printed, the backend skipped
        return f"{type(error).__name__}: {error}".splitlines()[0]


def seed(url: str, cases: int) -> str:
    """Migrate and seed ``cases`` synthetic cases in a child process; its report line."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.seed", url, str(cases)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding {cases} cases failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def _forget_engine(url: str) -> None:
    """Close the pooled connections of this URL (the schema or file is going away)."""
    get_engine(url).dispose()


@contextmanager
def fresh_database(backend: str, label: str = "bench") -> Iterator[str]:
    """An empty database URL for ``backend``, removed when the block ends."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"cupboard-{label}-"))
        url = f"sqlite:///{folder / 'cupboard.sqlite3'}"
        try:
            yield url
        finally:
            _forget_engine(url)
            shutil.rmtree(folder, ignore_errors=True)
        return
    if backend == "postgresql":
        schema = f"cupboard_{label}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        try:
            yield url
        finally:
            _forget_engine(url)
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        return
    raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
