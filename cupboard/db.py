"""Engine, sessions and migrations.

SQLite file by default (foreign keys on, WAL, busy timeout); PostgreSQL when
``CUPBOARD_DATABASE_URL`` says so. One engine per URL per process; one short
``Session`` per user action (never kept in Streamlit state).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

REPO_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = REPO_ROOT / "db" / "migrations"
DEFAULT_SQLITE_PATH = REPO_ROOT / "var" / "cupboard.sqlite3"
ENV_DATABASE_URL = "CUPBOARD_DATABASE_URL"


def database_url(redact: bool = False) -> str:
    """The configured database URL; the embedded SQLite file when none is set."""
    url = os.environ.get(ENV_DATABASE_URL, "").strip()
    if not url:
        DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    if redact:
        return make_url(url).render_as_string(hide_password=True)
    return url


def is_default_database() -> bool:
    return not os.environ.get(ENV_DATABASE_URL, "").strip()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# Execution option marking a transaction that only reads (see _sqlite_begin).
_READS_ONLY = "cupboard_reads_only"


def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    """Take SQLite's write lock when a writing transaction starts, not at its first write.

    With deferred transactions, two users who both read a row and then write it make
    the second fail with SQLITE_BUSY ("database is locked") instead of waiting; with
    BEGIN IMMEDIATE the second waits (busy_timeout), then reads the row the first one
    saved, and the version check reports a clear conflict. (SQLAlchemy's documented
    pysqlite transaction recipe.)

    A transaction that only reads begins deferred: in WAL mode it reads the last
    committed state beside a writer instead of queuing behind it, so a long import
    does not hold up every screen.
    """
    if connection.get_execution_options().get(_READS_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@functools.cache
def get_engine(url: str) -> Engine:
    """The process-wide engine for a URL (cached: engines own connection pools)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # Use psycopg 3, the maintained driver, unless another was named explicitly.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


@functools.cache
def get_session_factory(url: str, writes: bool = True) -> sessionmaker[Session]:
    engine = get_engine(url)
    if not writes:
        # The same engine and pool; only how SQLite begins the transaction differs.
        engine = engine.execution_options(**{_READS_ONLY: True})
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(url: str, *, writes: bool = True) -> Iterator[Session]:
    """One transaction: commits on success, rolls back on any exception.

    ``writes=False`` for a transaction that only reads: on SQLite it does not take the
    write lock (a write in it may then fail with "database is locked" rather than wait).
    """
    with get_session_factory(url, writes)() as session, session.begin():
        yield session


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


_upgrade_lock = threading.Lock()


def upgrade_database(url: str) -> None:
    """Apply every Alembic migration up to head (idempotent)."""
    from alembic import command

    with _upgrade_lock:
        command.upgrade(alembic_config(url), "head")


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


def table_names(url: str) -> list[str]:
    return inspect(get_engine(url)).get_table_names()
