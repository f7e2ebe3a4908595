"""one current decision per case and meeting; what the database is for

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Issue 14. Two people could record different decisions for one case at one meeting and
both stood (the GP letter listed both). Now a case has at most one current decision
per meeting, and per day for a decision taken outside a meeting, enforced by partial
unique indexes, so that two saves racing cannot both commit. Where a database already
holds two, the first recorded stands (as the service now decides) and the later ones
are marked superseded, each with an audit row saying why.

The ``installation`` table records whether the database is a demo (synthetic patients,
published demo accounts) or production. A database holding a real account, or data
written by anyone but the demo seed and demo accounts, is production from here on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED_REASON = "synthetic demo cohort"  # db/demo_cohort.py, as of this revision
DUPLICATE_REASON = (
    "two current decisions for one case and meeting (issue 14): the first recorded "
    "stands, this later one is marked superseded (migration 0004)"
)


def _non_demo_content(bind: sa.Connection) -> str | None:
    account = bind.execute(
        sa.text("SELECT username FROM users WHERE NOT is_demo ORDER BY id LIMIT 1")
    ).scalar()
    if account is not None:
        return f"holds the account {account}"
    data = bind.execute(
        sa.text(
            "SELECT id FROM audit_events "
            "WHERE action IN ('create', 'update') "
            "AND NOT ("
            " (actor_id IS NULL AND COALESCE(reason, '') = :seed)"
            " OR (actor_id IS NULL AND entity = 'user'"
            "     AND entity_id IN (SELECT id FROM users WHERE is_demo))"
            " OR (actor_id IS NOT NULL AND actor_id IN (SELECT id FROM users WHERE is_demo))"
            ") LIMIT 1"
        ),
        {"seed": SEED_REASON},
    ).scalar()
    if data is not None:
        return "holds data not made by the demo seed or a demo account"
    return None


def _classify(bind: sa.Connection) -> None:
    reason = _non_demo_content(bind)
    if reason is not None:
        kind = "production"
    elif bind.execute(sa.text("SELECT 1 FROM users LIMIT 1")).scalar() is not None:
        kind, reason = "demo", "held only the demo seed and demo accounts at migration 0004"
    else:
        return  # a new database: decided at first use
    bind.execute(
        sa.text(
            "INSERT INTO installation (id, kind, decided_at, reason) "
            "VALUES (1, :kind, :at, :reason)"
        ),
        {"kind": kind, "at": dt.datetime.now(dt.UTC), "reason": reason},
    )


def _supersede_duplicates(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT id, case_id, meeting_id, decided_on, version FROM decisions "
            "WHERE NOT superseded ORDER BY id"
        )
    ).all()
    first: set[tuple[object, ...]] = set()
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        key = (
            (row.case_id, "meeting", row.meeting_id)
            if row.meeting_id is not None
            else (row.case_id, "day", str(row.decided_on))
        )
        if key not in first:
            first.add(key)
            continue
        bind.execute(
            sa.text("UPDATE decisions SET superseded = :yes, version = :v WHERE id = :id"),
            {"yes": True, "v": row.version + 1, "id": row.id},
        )
        bind.execute(
            sa.text(
                "INSERT INTO audit_events (occurred_at, actor_id, actor_username, action, "
                "entity, entity_id, entity_version, case_id, field, before, after, reason) "
                "VALUES (:at, NULL, 'system', 'update', 'decision', :id, :v, :case_id, "
                "'superseded', :before, :after, :reason)"
            ),
            {
                "at": now,
                "id": row.id,
                "v": row.version + 1,
                "case_id": row.case_id,
                "before": json.dumps(False),
                "after": json.dumps(True),
                "reason": DUPLICATE_REASON,
            },
        )


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_installation_single_row")),
        sa.CheckConstraint("kind IN ('demo','production')", name=op.f("ck_installation_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    bind = op.get_bind()
    _classify(bind)
    _supersede_duplicates(bind)
    false = "0" if bind.dialect.name == "sqlite" else "false"
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_decisions_current_per_meeting",
            ["case_id", "meeting_id"],
            unique=True,
            sqlite_where=sa.text(f"superseded = {false} AND meeting_id IS NOT NULL"),
            postgresql_where=sa.text(f"superseded = {false} AND meeting_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_decisions_current_outside_meeting",
            ["case_id", "decided_on"],
            unique=True,
            sqlite_where=sa.text(f"superseded = {false} AND meeting_id IS NULL"),
            postgresql_where=sa.text(f"superseded = {false} AND meeting_id IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("uq_decisions_current_outside_meeting")
        batch_op.drop_index("uq_decisions_current_per_meeting")
    op.drop_table("installation")
