"""case finder search keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

Issue 16: one case finder by name, MRN or personal number and pseudonym, accent- and
case-insensitive on SQLite and PostgreSQL alike. Each patient keeps its name folded to
plain lower-case letters (``search_name``: "Åsa Öberg" -> "asa oberg") and its
numbers without separators (``search_id``: "|195803141234|cup00012|"), written by the
application whenever the patient is (cupboard/search_keys.py); existing patients are
folded here with a frozen copy of those rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ð": "d"})
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)
    return " ".join(_NOT_ALNUM.sub(" ", plain).split())


def _compact(value: str) -> str:
    return _fold(value).replace(" ", "")


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("search_id", sa.String(length=80), nullable=True))
    patients = sa.table(
        "patients",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("mrn", sa.String),
        sa.column("pseudonym", sa.String),
        sa.column("search_name", sa.String),
        sa.column("search_id", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(patients.c.id, patients.c.name, patients.c.mrn, patients.c.pseudonym)
    ).all()
    for row in rows:
        connection.execute(
            patients.update()
            .where(patients.c.id == row.id)
            .values(
                search_name=_fold(row.name),
                search_id=f"|{_compact(row.mrn)}|{_compact(row.pseudonym)}|",
            )
        )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.alter_column("search_name", existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column("search_id", existing_type=sa.String(length=80), nullable=False)
        batch_op.create_index(batch_op.f("ix_patients_search_name"), ["search_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_patients_search_id"), ["search_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_search_id"))
        batch_op.drop_index(batch_op.f("ix_patients_search_name"))
        batch_op.drop_column("search_id")
        batch_op.drop_column("search_name")
