"""Migration 0004 on a database that already holds data (issue 14)."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import text

from cupboard.db import alembic_config, get_engine, upgrade_database

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _at_0003_with(url: str, *statements: str) -> None:
    command.downgrade(alembic_config(url), "0003")
    with get_engine(url).begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"now": NOW})
    upgrade_database(url)


USER = (
    "INSERT INTO users (id, username, display_name, role, is_active, is_demo, "
    "failed_login_count, created_at, version) VALUES ({id}, '{name}', '{name}', 'chair', "
    "true, {demo}, 0, :now, 1)"
)
PATIENT_AND_CASE = (
    "INSERT INTO patients (id, pseudonym, mrn, name, sex, date_of_birth, created_at, version) "
    "VALUES (1, 'P1', 'M1', 'N', 'female', '1950-01-01', :now, 1)",
    "INSERT INTO cases (id, patient_id, status, diagnostic_stage, pathway_start, referral_date, "
    "metastatic_sites, created_at, updated_at, version) "
    "VALUES (1, 1, 'decision_recorded', 'muo', '2026-11-01', '2026-11-01', '[]', :now, :now, 1)",
    "INSERT INTO mdt_meetings (id, meeting_date, title, attendees, version) "
    "VALUES (1, '2026-12-01', 'CUP MDT', '[]', 1)",
)


DECISION = (
    "INSERT INTO decisions (id, case_id, meeting_id, code, rationale, attendees, decided_on, "
    "decided_by_id, superseded, created_at, version) VALUES ({id}, 1, 1, '{code}', "
    "'r', '[]', '2026-12-01', 1, false, :now, 1)"
)


def test_two_current_decisions_for_one_meeting_keep_the_first_recorded(database_url: str) -> None:
    _at_0003_with(
        database_url,
        USER.format(id=1, name="real.chair", demo="false"),
        *PATIENT_AND_CASE,
        DECISION.format(id=1, code="best_supportive_care"),
        DECISION.format(id=2, code="empiric_platinum_taxane"),
    )
    with get_engine(database_url).connect() as connection:
        rows = connection.execute(
            text("SELECT id, superseded, version FROM decisions ORDER BY id")
        ).all()
        audit = connection.execute(
            text("SELECT entity_id, field, reason FROM audit_events WHERE entity = 'decision'")
        ).all()
        kind = connection.execute(text("SELECT kind, reason FROM installation")).one()
    assert [(r.id, bool(r.superseded), r.version) for r in rows] == [(1, False, 1), (2, True, 2)]
    assert [(a.entity_id, a.field) for a in audit] == [(2, "superseded")]
    assert "first recorded stands" in audit[0].reason
    assert tuple(kind) == ("production", "holds the account real.chair")


def test_a_database_of_demo_accounts_only_is_recorded_as_a_demo(database_url: str) -> None:
    _at_0003_with(database_url, USER.format(id=1, name="demo-chair", demo="true"))
    with get_engine(database_url).connect() as connection:
        assert connection.execute(text("SELECT kind FROM installation")).scalar() == "demo"


def test_a_new_database_is_left_undecided(database_url: str) -> None:
    _at_0003_with(database_url)
    with get_engine(database_url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM installation")).scalar() == 0
