"""Migrations build the whole schema on both engines, and the audit table is append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from cupboard.db import current_revision, get_engine, head_revision, upgrade_database
from cupboard.models import Base


def test_empty_database_upgrades_to_head(database_url: str) -> None:
    # The fixture already migrated; running again must be a no-op, not an error.
    upgrade_database(database_url)
    assert current_revision(database_url) == head_revision()
    tables = set(inspect(get_engine(database_url)).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_schema_matches_the_models(database_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with get_engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_audit_events_cannot_be_updated_or_deleted(database_url: str) -> None:
    engine = get_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (occurred_at, actor_username, action, entity) "
                "VALUES (CURRENT_TIMESTAMP, 'tester', 'create', 'case')"
            )
        )
    for statement in ("UPDATE audit_events SET actor_username = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with engine.connect() as connection:
        assert connection.execute(
            text("SELECT actor_username FROM audit_events")
        ).scalars().all() == ["tester"]


def test_sqlite_runs_with_foreign_keys_and_wal(backend: str, database_url: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite pragmas only")
    with get_engine(database_url).connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
