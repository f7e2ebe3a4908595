"""trial register

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

Issue 19: the clinical trials this centre can offer, so that the board sees at the
moment of deciding which open trial a patient could enter. One row per trial, its
identifier (NCT or EU CT number) unique; structured eligibility as JSON beside the
registry's free text; version-checked like every editable row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("phase", sa.String(length=40), nullable=True),
        sa.Column("site_contact", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("eligibility_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('recruiting','closed')", name=op.f("ck_trials_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint("identifier", name=op.f("uq_trials_identifier")),
    )


def downgrade() -> None:
    op.drop_table("trials")
