"""Migration 0007 folds the names and numbers of patients already registered, so the
case finder finds them as it finds new ones (issue 16)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from cupboard.db import alembic_config, get_engine, upgrade_database


def test_existing_patients_get_their_search_keys(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "0006")
    with get_engine(database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patients (id, pseudonym, mrn, name, sex, date_of_birth, "
                "created_at, version) VALUES (1, 'CUP-00001', '19580314-1234', "
                "'Åsa Öberg-Lindqvist', 'female', '1958-03-14', CURRENT_TIMESTAMP, 1)"
            )
        )
    upgrade_database(database_url)
    with get_engine(database_url).connect() as connection:
        row = connection.execute(text("SELECT search_name, search_id FROM patients")).one()
    assert tuple(row) == ("asa oberg lindqvist", "|195803141234|cup00001|")
