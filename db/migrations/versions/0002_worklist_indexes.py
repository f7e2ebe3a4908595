"""worklist indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Indexes for the navigator worklist's per-kind queries (cupboard/services/worklist.py,
issue 8): results reported and not yet reviewed are found among every reported result
of the registry (status alone matched 59,000 rows at 10,000 cases, the unreviewed
ones are a few hundred), and treatment decisions without a start among every decision
(status, start and date together select the few that are overdue).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("investigations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_investigations_status_reviewed_on", ["status", "reviewed_on"], unique=False
        )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decisions_treatment_start",
            ["code", "treatment_started_on", "decided_on"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_treatment_start")
    with op.batch_alter_table("investigations", schema=None) as batch_op:
        batch_op.drop_index("ix_investigations_status_reviewed_on")
