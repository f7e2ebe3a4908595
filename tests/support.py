"""Helpers that several test files share: an investigation's audit rows, and running a
function in many threads at once with every failure reported."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import AuditEvent


def investigation_updates(
    url: str, investigation_id: int, field: str | None = None
) -> list[AuditEvent]:
    """The audit rows of an investigation's updates, in the order written; of one field
    when ``field`` is given."""
    query = select(AuditEvent).where(
        AuditEvent.entity == "investigation",
        AuditEvent.entity_id == investigation_id,
        AuditEvent.action == "update",
    )
    if field is not None:
        query = query.where(AuditEvent.field == field)
    with unit_of_work(url) as session:
        return list(session.scalars(query.order_by(AuditEvent.id)))


def run_in_threads(
    count: int, target: Callable[[int], None], *, start_together: bool = False
) -> list[BaseException]:
    """Run ``target(0) … target(count - 1)``, each in its own thread (all released at
    once by a barrier when ``start_together``); the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count, timeout=30)

    def guarded(n: int) -> None:
        try:
            if start_together:
                barrier.wait()
            target(n)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"threads hung: {hung}"
    return errors
