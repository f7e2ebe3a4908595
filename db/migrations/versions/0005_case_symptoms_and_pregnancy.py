"""case symptoms and pregnancy

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

What the case's clinical picture needs beside the findings (issue 15): the symptoms
that direct the workup (neurological -> MRI brain, haematuria -> cystoscopy, ...
[SVF block D], [NICE]) as a list of codes, and whether a woman is pregnant, since
beta-hCG is then no germ-cell marker. Both start unknown on existing cases: no symptom
recorded is not "no symptoms", and pregnancy not recorded stays null.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("symptoms", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("pregnant", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("pregnant")
        batch_op.drop_column("symptoms")
