"""A screen's read does not queue behind a colleague's write (issue 18).

On SQLite every transaction used to begin with ``BEGIN IMMEDIATE``, so a read waited
for any writer (a long import made every screen fail with "database is locked"). Reads
now begin deferred and, in WAL mode, see the last committed state beside the writer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import Case
from cupboard.services import case_record
from cupboard.services.context import ServiceContext


def test_a_read_runs_while_another_connection_holds_a_write_transaction(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse = contexts["navigator"]
    case_id = make_case()
    writing = threading.Event()
    done = threading.Event()
    read_status: list[str] = []

    def writer() -> None:
        with unit_of_work(nurse.database_url) as session:
            case = session.scalar(select(Case).where(Case.id == case_id))
            assert case is not None
            case.status = "closed"
            session.flush()  # the write is under way, its transaction open
            writing.set()
            done.wait(timeout=30)  # held until the read below has finished

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(timeout=30)
        started = time.monotonic()
        with unit_of_work(nurse.database_url, writes=False) as session:
            read_status.append(session.scalar(select(Case.status).where(Case.id == case_id)))
        # And the same through a service's read, with its account check.
        header = case_record.case_header(nurse, case_id)
        waited = time.monotonic() - started
    finally:
        done.set()
        thread.join(timeout=30)
    # The read saw the last committed state, not the write still under way, and did
    # not wait for it (the busy timeout is 10 s).
    assert read_status == [header.status] and header.status != "closed"
    assert waited < 5, f"the read waited {waited:.1f} s for the writer"
