"""Who the benchmark signs in as, and which real records it opens.

The seeded demo accounts are refused outside demo mode, and the benchmark runs with
demo mode off (as production does), so it adds ordinary accounts of its own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import User
from cupboard.permissions import SYSTEM_ACTOR, Actor
from cupboard.services import queue
from cupboard.services.accounts import actor_of, create_user
from cupboard.services.context import ServiceContext


def bench_actor(url: str, role: str = "chair", number: int = 1) -> Actor:
    """An active, non-demo account of ``role`` (created on first use)."""
    username = f"bench-{role}-{number}"
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            return actor_of(user)
    user_id = create_user(
        url,
        SYSTEM_ACTOR,
        username=username,
        display_name=f"Bench {role.title()} {number}",
        role=role,
        email=f"{username}@example.invalid",
    )
    with unit_of_work(url) as session:
        user = session.get(User, user_id)
        assert user is not None
        return actor_of(user)


def record_ids(ctx: ServiceContext) -> dict[str, int]:
    """The next meeting that has an agenda, and the first case on it: what a chair
    opens on the morning of the board."""
    today = dt.date.today()
    for meeting in queue.meetings(ctx, from_date=today):
        rows = queue.meeting_queue(ctx, meeting.id, today=today) if meeting.cases else []
        if rows:
            return {"meeting": meeting.id, "case": rows[0].case_id, "agenda": len(rows)}
    raise LookupError("no upcoming meeting with cases on its agenda in the seeded cohort")
