"""Shared fixtures: a fresh, migrated database per test, on SQLite and PostgreSQL.

Backends come from ``CUPBOARD_TEST_BACKENDS`` (default ``sqlite,postgresql``).
PostgreSQL is reached at ``CUPBOARD_TEST_POSTGRES_URL`` (default: the local server,
database ``test``); each test worker gets its own schema, migrated once and
truncated before every test. Where PostgreSQL is unreachable its tests are
skipped, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cupboard.db import upgrade_database
from cupboard.models import Base
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services.accounts import actor_of, create_user
from cupboard.services.cases import Referral, register_referral
from cupboard.services.context import ServiceContext

BACKENDS = [
    b.strip()
    for b in os.environ.get("CUPBOARD_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if b.strip()
]
POSTGRES_URL = os.environ.get(
    "CUPBOARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = bool(os.environ.get("CI"))


@pytest.fixture(scope="session", autouse=True)
def cheapest_password_hashes() -> Iterator[None]:
    """Argon2 at its cheapest parameters in the test process.

    What the tests check about passwords (argon2id, salted, verified, refused, throttled)
    does not depend on how costly one hash is; at the production parameters a hash and
    its check take up to a second on a busy two-core machine, hundreds of times a run.
    Servers and commands started as subprocesses (the browser and command-line tests)
    hash as in production."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from cupboard.services import accounts
    from db import demo_cohort

    cheapest = PasswordHasher.from_parameters(CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", cheapest)
        patch.setattr(demo_cohort, "PasswordHasher", lambda: cheapest)
        accounts._dummy_hash.cache_clear()
        demo_cohort.demo_password_hash.cache_clear()
        yield
    accounts._dummy_hash.cache_clear()
    demo_cohort.demo_password_hash.cache_clear()


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # the reason is reported in the skip/fail message
        return f"{type(error).__name__}: {error}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    from cupboard.db import get_engine

    # Fold the write-ahead log into the file so that a plain copy holds everything.
    get_engine(url).dispose()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    problem = _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"cupboard_test_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    upgrade_database(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for this test alone."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "cupboard.sqlite3"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    if backend == "postgresql":
        url: str = request.getfixturevalue("postgres_schema_url")
        from cupboard.db import get_engine

        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with get_engine(url).begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # The schema is reused: what the last test's database was (demo or production)
        # must not be remembered for this one.
        from cupboard.startup import forget_verdict

        forget_verdict(url)
        return url
    raise pytest.UsageError(f"unknown backend {backend!r}")


ROLES = ("navigator", "oncologist", "chair", "pathologist", "viewer", "admin")


@pytest.fixture
def contexts(database_url: str) -> dict[str, ServiceContext]:
    """One signed-in user per role, as service contexts."""
    from cupboard.db import unit_of_work
    from cupboard.models import User

    result = {}
    for role in ROLES:
        user_id = create_user(
            database_url,
            SYSTEM_ACTOR,
            username=f"test-{role}",
            display_name=f"Test {role.title()}",
            role=role,
            email=f"{role}@example.invalid",
        )
        with unit_of_work(database_url) as session:
            user = session.get(User, user_id)
            assert user is not None
            result[role] = ServiceContext(database_url, actor_of(user))
    return result


@pytest.fixture
def make_case(contexts: dict[str, ServiceContext]) -> Callable[..., int]:
    """Register a referral through the service layer; returns the case id."""
    counter = iter(range(1, 10_000))

    def _make(
        sex: str = "female",
        date_of_birth: dt.date = dt.date(1960, 5, 17),
        sites: tuple[str, ...] = ("liver", "bone"),
        **extra: object,
    ) -> int:
        number = next(counter)
        referral = Referral(
            mrn=str(extra.pop("mrn", f"T{number:06d}")),
            name=str(extra.pop("name", f"Test Patient {number}")),
            sex=sex,
            date_of_birth=date_of_birth,
            referral_date=extra.pop("referral_date", dt.date.today() - dt.timedelta(days=10)),  # type: ignore[arg-type]
            metastatic_sites=sites,
            **extra,  # type: ignore[arg-type]
        )
        return register_referral(contexts["navigator"], referral)

    return _make


REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def open_page(
    database_url: str, contexts: dict[str, ServiceContext], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., object]:
    """Run the app in Streamlit's AppTest, signed in as a role, on the test database.

    ``open_page("pages/case.py", role="navigator", query={"case_id": "3"})`` returns
    the AppTest after its first run. ``role=None`` runs it signed out.
    """
    from streamlit.testing.v1 import AppTest

    from cupboard.ui.guard import ACTOR_KEY

    monkeypatch.setenv("CUPBOARD_DATABASE_URL", database_url)
    monkeypatch.setenv("CUPBOARD_DEMO", "0")
    # A crash stays a crash (app.exception) instead of dashboard.py's plain sentence;
    # tests of that sentence turn this off (tests/pages/test_plain_errors.py).
    monkeypatch.setenv("CUPBOARD_DEBUG", "1")

    def _open(
        page: str | None = None,
        role: str | None = "chair",
        query: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> AppTest:
        app = AppTest.from_file(str(REPO_ROOT / "dashboard.py"), default_timeout=timeout)
        if role is not None:
            app.session_state[ACTOR_KEY] = contexts[role].actor
        if page is not None:
            app.switch_page(page)
        for key, value in (query or {}).items():
            app.query_params[key] = value
        return app.run()

    return _open
