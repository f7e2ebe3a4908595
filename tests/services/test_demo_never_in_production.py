"""Demo accounts and synthetic patients never in a production database (issue 14 point 3).

Before: starting once with ``CUPBOARD_DEMO=1`` on a database with a real administrator
created the published demo accounts and 60 synthetic patients; ``seed-demo`` did the
same silently; an account made by demo-admin stayed valid after demo mode; ``--as
demo-navigator`` worked outside demo mode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from cupboard import cli
from cupboard.db import unit_of_work
from cupboard.models import Case, Installation, User
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import installation
from cupboard.services.accounts import (
    SignInRefusedError,
    actor_of,
    add_user,
    authenticate,
    create_user,
    signed_in_actor,
)
from cupboard.services.cases import Referral, register_referral
from cupboard.services.context import ServiceContext
from cupboard.services.interop import CLI_ACTOR
from cupboard.startup import demo_mode, forget_verdict, prepare_database
from db.demo_cohort import DEMO_ACCOUNTS, demo_password_hash, seed_demo_cohort


@pytest.fixture
def demo_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """CUPBOARD_DEMO=1 on the test database, with the per-process caches cleared."""
    monkeypatch.setenv("CUPBOARD_DATABASE_URL", database_url)
    monkeypatch.setenv("CUPBOARD_DEMO", "1")
    prepare_database.cache_clear()
    forget_verdict(database_url)
    yield database_url
    prepare_database.cache_clear()
    forget_verdict(database_url)


def _real_admin(url: str) -> int:
    return create_user(
        url,
        SYSTEM_ACTOR,
        username="real.admin",
        display_name="Real Admin",
        role="admin",
        password="correct horse battery staple 42",
    )


def _counts(url: str) -> tuple[int, int]:
    with unit_of_work(url) as session:
        return (
            session.scalar(select(func.count(User.id)).where(User.is_demo)) or 0,
            session.scalar(select(func.count(Case.id))) or 0,
        )


def _kind(url: str) -> str | None:
    with unit_of_work(url) as session:
        return session.scalar(select(Installation.kind))


def test_demo_mode_seeds_a_new_database_and_records_it_as_a_demo(demo_env: str) -> None:
    prepare_database(demo_env, demo_mode())
    assert _kind(demo_env) == "demo"
    assert _counts(demo_env) == (len(DEMO_ACCOUNTS) + 5, 60)
    assert demo_mode() is True
    actor = authenticate(demo_env, "demo-chair", "demo", allow_demo=demo_mode())
    assert actor.role == "chair"


def test_demo_mode_on_a_database_with_a_real_administrator_adds_nothing(demo_env: str) -> None:
    _real_admin(demo_env)
    prepare_database(demo_env, demo_mode())
    assert _counts(demo_env) == (0, 0)
    assert _kind(demo_env) == "production"
    assert demo_mode() is False  # the sign-in page lists no demo accounts


def test_real_data_without_any_account_makes_a_database_production(demo_env: str) -> None:
    referral = Referral(
        mrn="R000001",
        name="Real Patient",
        sex="female",
        date_of_birth=dt.date(1950, 1, 1),
        referral_date=dt.date.today(),
        metastatic_sites=("liver",),
    )
    register_referral(ServiceContext(demo_env, CLI_ACTOR), referral)  # an import
    prepare_database(demo_env, demo_mode())
    assert _counts(demo_env) == (0, 1)
    assert (_kind(demo_env), demo_mode()) == ("production", False)


def test_a_demo_database_given_a_real_account_is_production_for_good(demo_env: str) -> None:
    prepare_database(demo_env, True)
    demo_chair = signed_in_actor(demo_env, 1, allow_demo=True)
    assert demo_chair is not None and demo_mode() is True
    _real_admin(demo_env)  # e.g. `python -m cupboard add-user` beside the demo
    forget_verdict(demo_env)
    assert (_kind(demo_env), demo_mode()) == ("production", False)
    assert signed_in_actor(demo_env, demo_chair.user_id, allow_demo=demo_mode()) is None
    with pytest.raises(installation.ProductionDatabaseError, match=r"real\.admin"):
        installation.claim_for_demo(demo_env)


def test_an_account_made_by_demo_admin_is_a_demo_account(database_url: str) -> None:
    seed_demo_cohort(database_url, cases=1)
    with unit_of_work(database_url) as session:
        demo_admin = session.scalar(select(User).where(User.username == "demo-admin"))
        assert demo_admin is not None
        ctx = ServiceContext(database_url, actor_of(demo_admin))
    made = add_user(
        ctx,
        username="friend",
        display_name="A friend",
        role="admin",
        password="a perfectly long passphrase 1",
    )
    assert signed_in_actor(database_url, made, allow_demo=True) is not None
    assert signed_in_actor(database_url, made, allow_demo=False) is None
    assert installation.settle(database_url) != "production"
    # A real administrator's new account is real, and makes the database production.
    real = ServiceContext(database_url, SYSTEM_ACTOR)
    add_user(real, username="nurse", display_name="N", role="navigator", email="n@x.example")
    assert installation.settle(database_url) == "production"


def test_the_demo_password_is_hashed_once_and_still_verified(database_url: str) -> None:
    seed_demo_cohort(database_url, cases=1)
    with unit_of_work(database_url) as session:
        hashes = set(
            session.scalars(select(User.password_hash).where(User.password_hash.is_not(None)))
        )
    assert hashes == {demo_password_hash()}
    assert authenticate(database_url, "demo-viewer", "demo", allow_demo=True).role == "viewer"
    with pytest.raises(SignInRefusedError):
        authenticate(database_url, "demo-viewer", "not the password", allow_demo=True)


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, demo: str, *argv: str) -> tuple[int, list[str]]:
    monkeypatch.setenv("CUPBOARD_DATABASE_URL", url)
    monkeypatch.setenv("CUPBOARD_DEMO", demo)
    forget_verdict(url)
    return cli.main(list(argv)), []


def test_seed_demo_refuses_a_database_with_real_accounts(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _real_admin(database_url)
    code, _ = _cli(monkeypatch, database_url, "0", "seed-demo", "--cases", "5")
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "holds the account real.admin" in err
    assert _counts(database_url) == (0, 0)


def test_seed_demo_fills_a_new_database_and_then_a_demo_one_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(monkeypatch, database_url, "0", "seed-demo", "--cases", "5")[0] == 0
    assert _cli(monkeypatch, database_url, "0", "seed-demo", "--cases", "5")[0] == 0
    assert "seeded 5 synthetic cases" in capsys.readouterr().out
    assert _counts(database_url) == (len(DEMO_ACCOUNTS) + 5, 10)
    assert _kind(database_url) == "demo"


def test_acting_as_a_demo_account_on_the_command_line_needs_demo_mode(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: object,
) -> None:
    seed_demo_cohort(database_url, cases=2)
    installation.claim_for_demo(database_url)
    output = f"{tmp_path}/cohort.csv"
    argv = ("export-cohort", "--format", "csv", "--output", output, "--as", "demo-navigator")
    code, _ = _cli(monkeypatch, database_url, "0", *argv)
    err = capsys.readouterr().err
    assert code == 2 and "demo-navigator is a demo account" in err and err.count("\n") == 1
    assert _cli(monkeypatch, database_url, "1", *argv)[0] == 0


def test_real_patients_imported_beside_a_running_demo_end_its_demo_mode(
    demo_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    prepare_database(demo_env, True)
    assert demo_mode() is True
    referrals = f"{tmp_path}/referrals.csv"
    with open(referrals, "w", encoding="utf-8") as file:
        file.write(
            "mrn,name,sex,date_of_birth,referral_date,metastatic_sites\n"
            f"R100,Real Patient,female,1950-01-01,{dt.date.today().isoformat()},liver\n"
        )
    assert _cli(monkeypatch, demo_env, "0", "import-referrals", referrals, "--commit")[0] == 0
    monkeypatch.setenv("CUPBOARD_DEMO", "1")
    forget_verdict(demo_env)  # as a running server does after a few seconds
    assert (_kind(demo_env), demo_mode()) == ("production", False)
