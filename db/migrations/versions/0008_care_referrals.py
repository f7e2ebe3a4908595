"""care referrals

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

Issue 21: referrals the board makes beside its treatment decision (palliative care,
psycho-oncology, clinical genetics, dietitian, rehabilitation, a second opinion, other),
each with its reason, who requested it and when, and a status the navigator moves on
with the date of each step; version-checked like every editable row. Indexed on
(status, requested_on) for the worklist's stalled referrals.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("prompted", sa.Boolean(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("seen_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('palliative_care','psycho_oncology','clinical_genetics','dietitian',"
            "'rehabilitation','second_opinion','other')",
            name=op.f("ck_care_referrals_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('requested','accepted','seen','closed','declined_by_patient')",
            name=op.f("ck_care_referrals_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_care_referrals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_care_referrals_decision_id_decisions")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["mdt_meetings.id"],
            name=op.f("fk_care_referrals_meeting_id_mdt_meetings"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_care_referrals_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_referrals")),
    )
    op.create_index(op.f("ix_care_referrals_case_id"), "care_referrals", ["case_id"])
    op.create_index(
        "ix_care_referrals_status_requested_on", "care_referrals", ["status", "requested_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_care_referrals_status_requested_on", table_name="care_referrals")
    op.drop_index(op.f("ix_care_referrals_case_id"), table_name="care_referrals")
    op.drop_table("care_referrals")
