"""Saving a workup edit: each row audited and version-checked on its own, a refused row
changes nothing, and the case's investigations come back as they now stand."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, NotFoundError, ValidationError
from cupboard.models import Investigation
from cupboard.services.context import ServiceContext
from cupboard.services.workup import InvestigationEdit, save_workup_edits, update_investigation
from tests.support import investigation_updates

TODAY = dt.date(2026, 11, 20)


def _rows(url: str, case_id: int) -> dict[str, Investigation]:
    with unit_of_work(url) as session:
        rows = session.scalars(select(Investigation).where(Investigation.case_id == case_id))
        return {r.code: r for r in rows}


def test_one_edit_is_saved_audited_and_read_back(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["navigator"]
    case_id = make_case()
    ct = _rows(ctx.database_url, case_id)["ct_cap"]
    result = save_workup_edits(
        ctx, case_id, [InvestigationEdit(ct.id, ct.version, {"status": "requested"})], TODAY
    )
    assert result.saved == (ct.id,) and result.refused == ()
    # What comes back is the database after the save, every investigation of the case.
    back = {r.code: r for r in result.investigations}
    assert set(back) == set(_rows(ctx.database_url, case_id))
    assert (back["ct_cap"].status, back["ct_cap"].version) == ("requested", ct.version + 1)
    assert back["ct_cap"].requested_on == TODAY  # stamped, as a one-click change does
    events = investigation_updates(ctx.database_url, ct.id)
    assert {(e.field, json.loads(e.after)) for e in events} == {
        ("status", "requested"),
        ("requested_on", TODAY.isoformat()),
    }
    assert {(e.entity_version, e.actor_username) for e in events} == {
        (ct.version + 1, "test-navigator")
    }


def test_a_refused_row_changes_nothing_and_the_others_are_kept(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["navigator"]
    case_id = make_case()
    rows = _rows(ctx.database_url, case_id)
    ct, histology, psa = rows["ct_cap"], rows["histopathology_ihc"], rows["psa"]
    # Someone else saves the histology row first: this user's version of it is stale.
    update_investigation(
        contexts["oncologist"], histology.id, histology.version, {"status": "requested"}, TODAY
    )
    result = save_workup_edits(
        ctx,
        case_id,
        [
            InvestigationEdit(ct.id, ct.version, {"status": "requested"}),
            InvestigationEdit(histology.id, histology.version, {"status": "done"}),
            InvestigationEdit(psa.id, psa.version, {"status": "booked"}),  # no date: refused
        ],
        TODAY,
    )
    assert result.saved == (ct.id,)
    refused = dict(result.refused)
    assert isinstance(refused[histology.id], ConflictError)
    assert isinstance(refused[psa.id], ValidationError)
    assert "booked_for" in str(refused[psa.id])
    after = _rows(ctx.database_url, case_id)
    assert after["ct_cap"].status == "requested"
    assert after["histopathology_ihc"].status == "requested"  # the other user's save stands
    assert (after["psa"].status, after["psa"].version) == (psa.status, psa.version)
    assert not investigation_updates(ctx.database_url, psa.id)
    # Only the other user's change is in its audit trail; the refused one left nothing.
    histology_actors = {
        e.actor_username for e in investigation_updates(ctx.database_url, histology.id)
    }
    assert histology_actors == {"test-oncologist"}
    back = {r.code: r.status for r in result.investigations}
    assert back == {code: row.status for code, row in after.items()}


def test_a_single_refused_edit_still_returns_the_workup_as_it_stands(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["navigator"]
    case_id = make_case()
    ct = _rows(ctx.database_url, case_id)["ct_cap"]
    update_investigation(contexts["oncologist"], ct.id, ct.version, {"status": "requested"}, TODAY)
    result = save_workup_edits(
        ctx, case_id, [InvestigationEdit(ct.id, ct.version, {"status": "done"})], TODAY
    )
    assert result.saved == ()
    [(refused_id, error)] = result.refused
    assert refused_id == ct.id and isinstance(error, ConflictError)
    assert "test-oncologist" in str(error)  # names who saved first
    assert {r.code: r.status for r in result.investigations}["ct_cap"] == "requested"


def test_an_investigation_of_another_case_is_refused(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    ctx = contexts["navigator"]
    case_id, other_case = make_case(), make_case()
    foreign = _rows(ctx.database_url, other_case)["ct_cap"]
    result = save_workup_edits(
        ctx, case_id, [InvestigationEdit(foreign.id, foreign.version, {"status": "requested"})]
    )
    assert result.saved == ()
    assert isinstance(dict(result.refused)[foreign.id], NotFoundError)
    assert _rows(ctx.database_url, other_case)["ct_cap"].status == foreign.status
    assert not investigation_updates(ctx.database_url, foreign.id)


def test_a_row_lost_in_a_race_comes_back_as_the_winner_saved_it(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], backend: str
) -> None:
    """Someone saves the same row between this save's read and its write: the database
    refuses the write (UPDATE ... WHERE version = seen), the other edits stand, and
    the workup that comes back shows the winner's value, not the refused one."""
    if backend != "postgresql":
        pytest.skip("SQLite holds the write lock from BEGIN: no one can save in between")
    ctx = contexts["navigator"]
    case_id = make_case()
    rows = _rows(ctx.database_url, case_id)
    ct, histology = rows["ct_cap"], rows["histopathology_ihc"]
    interrupted: list[bool] = []

    def someone_saves_first(session: Session, _context: object, _instances: object) -> None:
        if interrupted or not any(getattr(o, "id", None) == ct.id for o in session.dirty):
            return
        interrupted.append(True)  # once, and not for the other user's own flush
        update_investigation(
            contexts["oncologist"], ct.id, ct.version, {"result_text": "theirs"}, TODAY
        )

    event.listen(Session, "before_flush", someone_saves_first)
    try:
        result = save_workup_edits(
            ctx,
            case_id,
            [
                InvestigationEdit(histology.id, histology.version, {"status": "requested"}),
                InvestigationEdit(ct.id, ct.version, {"result_text": "mine"}),
            ],
            TODAY,
        )
    finally:
        event.remove(Session, "before_flush", someone_saves_first)
    assert interrupted, "the other save never ran: the test did not test a race"
    assert result.saved == (histology.id,)
    assert isinstance(dict(result.refused)[ct.id], ConflictError)
    back = {r.code: r for r in result.investigations}
    assert back["ct_cap"].result_text == "theirs"
    assert back["ct_cap"].version == ct.version + 1
    assert back["histopathology_ihc"].status == "requested"
    assert _rows(ctx.database_url, case_id)["ct_cap"].result_text == "theirs"
    assert {e.actor_username for e in investigation_updates(ctx.database_url, ct.id)} == {
        "test-oncologist"
    }
