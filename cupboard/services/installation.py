"""What a database is for: a demo or production, decided once and kept in the database.

The published demo accounts (password "demo", listed on the sign-in page) and the
synthetic cohort may only ever live in a database that has never held anything else.
A database that holds a real account, or data written by anyone but the demo seed and
demo accounts, is production for good: demo mode does not seed it and lets no demo
account in, whatever ``CUPBOARD_DEMO`` says. The verdict sits in the one-row
``installation`` table (migration 0004); "production" is never turned back.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cupboard.db import unit_of_work
from cupboard.errors import CupboardError
from cupboard.models import Installation, User, utcnow

DEMO = "demo"
PRODUCTION = "production"
# The reason the demo seed gives on every row it writes (db/demo_cohort.py).
SEED_REASON = "synthetic demo cohort"


class ProductionDatabaseError(CupboardError):
    """Demo data was asked for in a database that holds real accounts or data."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"Refused: this database {why}, so it is a production database; demo "
            "accounts and synthetic patients go only into a new, empty database."
        )


def kind(session: Session) -> str | None:
    """The recorded verdict: "demo", "production", or None for a new database."""
    return session.scalar(select(Installation.kind).where(Installation.id == 1))


def non_demo_content(session: Session) -> str | None:
    """Why this database is production (a real account, real data), or None."""
    account = session.scalar(
        select(User.username).where(User.is_demo.is_(False)).order_by(User.id).limit(1)
    )
    if account is not None:
        return f"holds the account {account}"
    # Every write leaves a create or update audit row; the seed's name its reason, and
    # a demo account's name the account. Anything else was written by someone real.
    found = session.execute(
        text(
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
    if found is not None:
        return "holds data not made by the demo seed or a demo account"
    return None


def _record(session: Session, verdict: str, reason: str) -> None:
    row = session.get(Installation, 1)
    if row is None:
        session.add(Installation(id=1, kind=verdict, decided_at=utcnow(), reason=reason))
    elif row.kind != verdict:
        row.kind, row.decided_at, row.reason = verdict, utcnow(), reason
    session.flush()


def mark_production(session: Session, reason: str) -> None:
    """In the caller's transaction: this database now holds something real."""
    if kind(session) != PRODUCTION:
        _record(session, PRODUCTION, reason)


def settle(url: str) -> str | None:
    """Look at what the database holds and record "production" if it holds anything
    real; returns the verdict (None: a new database, nothing decided yet)."""
    with unit_of_work(url) as session:
        recorded = kind(session)
        if recorded == PRODUCTION:
            return PRODUCTION
        why = non_demo_content(session)
        if why is not None:
            mark_production(session, why)
            return PRODUCTION
        return recorded


def claim_for_demo(url: str) -> None:
    """Record that this database is a demo, or refuse (ProductionDatabaseError)."""
    with unit_of_work(url) as session:
        if kind(session) == PRODUCTION:
            row = session.get(Installation, 1)
            raise ProductionDatabaseError(
                (row.reason if row else None) or "is recorded as production"
            )
        why = non_demo_content(session)
        if why is not None:
            mark_production(session, why)
            # Committed: the verdict stands although the request is refused.
        else:
            if kind(session) != DEMO:
                _record(session, DEMO, "was empty when demo mode or seed-demo claimed it")
            return
    raise ProductionDatabaseError(why)


def is_demo(url: str) -> bool:
    """Whether the database is recorded as a demo (one primary-key read)."""
    with unit_of_work(url, writes=False) as session:
        return kind(session) == DEMO


def is_demo_account(url: str, user_id: int | None) -> bool:
    """Whether the account is a demo account (the published password, or made by one)."""
    if user_id is None:
        return False
    with unit_of_work(url, writes=False) as session:
        return bool(session.scalar(select(User.is_demo).where(User.id == user_id)))
