"""Two people editing one case: one save wins, the other is told what changed, and
nothing is lost (optimistic locking), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, ValidationError
from cupboard.models import AuditEvent, Decision, EcogObservation, Investigation
from cupboard.services import case_record
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, amend_decision, record_decision
from cupboard.services.performance import record_ecog
from cupboard.services.workup import update_investigation
from tests.support import investigation_updates, run_in_threads

WRITERS = ("navigator", "oncologist", "chair")


def _ct(ctx: ServiceContext, case_id: int) -> case_record.WorkupRow:
    [row] = [r for r in case_record.workup(ctx, case_id) if r.code == "ct_cap"]
    return row


def test_second_of_two_sessions_gets_a_conflict_naming_the_change(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse, chair = contexts["navigator"], contexts["chair"]
    case_id = make_case()
    seen_by_nurse, seen_by_chair = _ct(nurse, case_id), _ct(chair, case_id)
    assert seen_by_nurse.version == seen_by_chair.version

    update_investigation(
        nurse, seen_by_nurse.investigation_id, seen_by_nurse.version, {"result_text": "A"}
    )
    with pytest.raises(ConflictError) as conflict:
        update_investigation(
            chair, seen_by_chair.investigation_id, seen_by_chair.version, {"result_text": "B"}
        )

    message = str(conflict.value)
    assert "nothing was saved" in message
    assert "test-navigator changed result text from (empty) to A " in message
    assert [(m.field, m.by) for m in conflict.value.missed] == [("result_text", "test-navigator")]
    assert _ct(nurse, case_id).result_text == "A"
    [only] = investigation_updates(
        nurse.database_url, seen_by_nurse.investigation_id, "result_text"
    )
    assert (only.actor_username, json.loads(only.after or "")) == ("test-navigator", "A")

    # The chair reloads, sees A, and adds to it: both contributions are kept.
    fresh = _ct(chair, case_id)
    update_investigation(chair, fresh.investigation_id, fresh.version, {"result_text": "A; B"})
    history = [
        json.loads(e.after or "")
        for e in investigation_updates(nurse.database_url, fresh.investigation_id, "result_text")
    ]
    assert history == ["A", "A; B"]


@contextmanager
def _all_wait_before_writing(parties: int) -> Iterator[list[int]]:
    """Hold every session that is about to write an investigation until all have read
    it: they all pass the service's version check, so the race is decided by the
    database (UPDATE ... WHERE version = seen). Yields the list of sessions that
    got through the barrier to their write."""
    barrier = threading.Barrier(parties, timeout=60)
    released: list[int] = []

    def wait(session: Session, _context: object, _instances: object) -> None:
        if any(isinstance(obj, Investigation) for obj in session.dirty):
            released.append(barrier.wait())

    event.listen(Session, "before_flush", wait)
    try:
        yield released
    finally:
        event.remove(Session, "before_flush", wait)


@pytest.mark.parametrize("writers", [2, 8])
def test_a_true_race_after_reading_the_same_version_has_exactly_one_winner(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    writers: int,
    backend: str,
) -> None:
    case_id = make_case()
    seen = _ct(contexts["navigator"], case_id)
    winners: list[int] = []
    start = threading.Barrier(writers, timeout=60)

    def write(n: int) -> None:
        ctx = contexts[WRITERS[n % len(WRITERS)]]
        start.wait()
        update_investigation(
            ctx, seen.investigation_id, seen.version, {"result_text": f"writer {n}"}
        )
        winners.append(n)

    if backend == "postgresql":
        with _all_wait_before_writing(writers) as released:
            errors = run_in_threads(writers, write)
        assert len(released) == writers  # every writer got past the version check
    else:
        # SQLite runs one write transaction at a time (BEGIN IMMEDIATE, cupboard/db.py):
        # the others wait, then read the saved version and the version check refuses.
        errors = run_in_threads(writers, write)

    assert len(winners) == 1
    assert len(errors) == writers - 1
    assert all(isinstance(e, ConflictError) for e in errors), errors
    row = _ct(contexts["navigator"], case_id)
    assert row.result_text == f"writer {winners[0]}" and row.version == seen.version + 1
    [only] = investigation_updates(
        contexts["navigator"].database_url, seen.investigation_id, "result_text"
    )
    assert json.loads(only.after or "") == f"writer {winners[0]}"
    # The losers are told who won and what they wrote, also when they lost in the
    # database rather than at the service's check.
    assert all(f"writer {winners[0]}" in str(e) for e in errors)


def test_twenty_writers_on_one_case_lose_nothing(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], backend: str
) -> None:
    """Twenty people at once each record an ECOG score and add a line to the same
    investigation's result, reloading and retrying on conflict. Every score and every
    line arrives, and the audit holds each exactly once."""
    if backend != "postgresql":
        pytest.skip("many concurrent writers is the PostgreSQL deployment's job")
    count = 20
    case_id = make_case()
    url = contexts["navigator"].database_url
    investigation_id = _ct(contexts["navigator"], case_id).investigation_id
    start = threading.Barrier(count, timeout=60)
    conflicts: list[int] = []

    def work(n: int) -> None:
        ctx = contexts[WRITERS[n % len(WRITERS)]]
        start.wait()
        record_ecog(ctx, case_id, score=n % 6, observed_on=dt.date.today(), note=f"writer {n}")
        for _attempt in range(500):
            current = _ct(ctx, case_id)
            lines = (current.result_text or "").splitlines()
            try:
                update_investigation(
                    ctx,
                    investigation_id,
                    current.version,
                    {"result_text": "\n".join([*lines, f"writer {n}"])},
                )
                return
            except ConflictError:
                conflicts.append(n)
        raise AssertionError(f"writer {n} never got its line in")

    errors = run_in_threads(count, work)
    assert errors == []

    final = _ct(contexts["navigator"], case_id)
    assert sorted(final.result_text.splitlines()) == sorted(f"writer {n}" for n in range(count))
    assert final.version == 1 + count
    assert len(investigation_updates(url, investigation_id, "result_text")) == count
    assert conflicts, "the writers never collided: the test did not test a race"
    with unit_of_work(url) as session:
        notes = session.scalars(
            select(EcogObservation.note).where(EcogObservation.case_id == case_id)
        ).all()
        audited = session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.entity == "ecog_observation", AuditEvent.case_id == case_id
            )
        )
    assert sorted(notes) == sorted(f"writer {n}" for n in range(count))
    assert audited == count


def test_twenty_writers_who_all_read_the_same_version_one_wins(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("many concurrent writers is the PostgreSQL deployment's job")
    count = 20
    case_id = make_case()
    seen = _ct(contexts["navigator"], case_id)
    winners: list[int] = []

    def write(n: int) -> None:
        ctx = contexts[WRITERS[n % len(WRITERS)]]
        update_investigation(
            ctx,
            seen.investigation_id,
            seen.version,
            {"status": "requested", "responsible": f"w{n}"},
        )
        winners.append(n)

    with _all_wait_before_writing(count) as released:
        errors = run_in_threads(count, write)
    assert len(released) == count  # every writer got past the version check
    assert len(winners) == 1 and len(errors) == count - 1
    assert all(isinstance(e, ConflictError) for e in errors), errors
    url = contexts["navigator"].database_url
    assert len(investigation_updates(url, seen.investigation_id, "status")) == 1
    assert len(investigation_updates(url, seen.investigation_id, "responsible")) == 1
    assert _ct(contexts["navigator"], case_id).version == seen.version + 1


def _decisions(url: str, case_id: int) -> list[Decision]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(Decision).where(Decision.case_id == case_id).order_by(Decision.id)
            )
        )


def test_an_amended_decision_is_kept_and_a_stale_amendment_is_refused(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    oncologist, chair = contexts["oncologist"], contexts["chair"]
    url = oncologist.database_url
    case_id = make_case()
    today = dt.date.today()
    first = DecisionDraft(code="best_supportive_care", rationale="ECOG 4", decided_on=today)
    original_id = record_decision(oncologist, case_id, first)
    [original] = _decisions(url, case_id)

    corrected = DecisionDraft(
        code="empiric_platinum_taxane",
        rationale="ECOG was 2, not 4: fit for chemotherapy",
        regimen="carboplatin + paclitaxel",
        decided_on=today,
    )
    amended_id = amend_decision(
        chair, original_id, original.version, corrected, reason="ECOG transcribed wrongly"
    )
    # A second amendment from someone who still had the original open is refused.
    with pytest.raises((ConflictError, ValidationError)):
        amend_decision(oncologist, original_id, original.version, first, reason="mine")

    old, new = _decisions(url, case_id)
    assert (old.id, new.id) == (original_id, amended_id)
    # The original is kept as it was, only marked superseded; nothing was overwritten.
    assert (old.code, old.rationale, old.superseded) == ("best_supportive_care", "ECOG 4", True)
    assert (new.code, new.amends_decision_id, new.superseded) == (
        "empiric_platinum_taxane",
        original_id,
        False,
    )
    with unit_of_work(url) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "decision", AuditEvent.case_id == case_id)
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.entity_id, e.field) for e in events] == [
        ("create", original_id, None),
        ("update", original_id, "superseded"),
        ("create", amended_id, None),
    ]
    assert {e.reason for e in events[1:]} == {"ECOG transcribed wrongly"}
    assert events[1].actor_username == "test-chair"
    assert json.loads(events[0].after or "{}")["rationale"] == "ECOG 4"


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET after = NULL", "DELETE FROM audit_events"]
)
def test_the_audit_trail_cannot_be_rewritten_or_deleted(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], statement: str
) -> None:
    url = contexts["navigator"].database_url
    make_case()
    with unit_of_work(url) as session:
        before = session.scalars(select(AuditEvent.after).order_by(AuditEvent.id)).all()
    with pytest.raises(DBAPIError, match="append-only"), unit_of_work(url) as session:
        session.execute(text(statement))
    with unit_of_work(url) as session:
        assert session.scalars(select(AuditEvent.after).order_by(AuditEvent.id)).all() == before
    assert len(before) > 20
