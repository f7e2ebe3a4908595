"""Fixtures for interoperability tests: a second, empty database to import into."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cupboard.db import get_engine, upgrade_database
from cupboard.services.context import ServiceContext
from cupboard.services.interop import CLI_ACTOR
from tests.conftest import POSTGRES_URL


@pytest.fixture
def second_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """Another migrated, empty database on the same backend (the receiving site)."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "receiving.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    request.getfixturevalue("postgres_schema_url")  # skips (or fails in CI) if unreachable
    schema = f"cupboard_receiving_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    upgrade_database(url)
    yield url
    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def operator(database_url: str) -> ServiceContext:
    """The command line's operator (navigator permissions, no account) on the test db."""
    return ServiceContext(database_url, CLI_ACTOR)
