"""The diagnostic workup: each investigation's status, dates and result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cupboard import validation as v
from cupboard.db import unit_of_work
from cupboard.errors import (
    ConflictError,
    CupboardError,
    NotFoundError,
    PermissionDeniedError,
    SessionExpiredError,
    ValidationError,
)
from cupboard.knowledge.investigations import INVESTIGATION_CODES, INVESTIGATION_STATUS_CODES
from cupboard.models import Investigation
from cupboard.services.audit import apply_update
from cupboard.services.case_record import (
    InvestigationRow,
    InvestigationSnapshot,
    investigations_of_case,
)
from cupboard.services.context import ServiceContext

# The date a status change stamps when the user gives none (one-click updates).
STATUS_DATE_FIELD: dict[str, str] = {
    "requested": "requested_on",
    "done": "done_on",
    "reported": "reported_on",
}

EDITABLE_FIELDS = (
    "status",
    "requested_on",
    "booked_for",
    "done_on",
    "reported_on",
    "result_text",
    "responsible",
    "reviewed_on",
)

# A booking can lie in the future; the other dates record what has happened.
_FUTURE_ALLOWED = {"booked_for"}
_NOT_YET_REQUESTED = {"to_request", "not_indicated"}


def validate_investigation_changes(changes: dict[str, Any], today: dt.date) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "code":
            v.choice("code", value, INVESTIGATION_CODES)
            raise ValidationError("code", "cannot be changed; each investigation has its own row")
        if key not in EDITABLE_FIELDS:
            raise ValidationError(key, "is not a field of an investigation")
        if key == "status":
            cleaned[key] = v.choice("status", value, INVESTIGATION_STATUS_CODES)
        elif key == "result_text":
            cleaned[key] = v.optional_text("result_text", value, v.MAX_LONG_TEXT)
        elif key == "responsible":
            cleaned[key] = v.optional_identity_text("responsible", value, 120)
        else:
            limit = None if key in _FUTURE_ALLOWED else today
            cleaned[key] = v.optional_date(key, value, not_after=limit)
    return cleaned


def check_investigation_dates(row: dict[str, Any]) -> None:
    """Dates must follow the order of events: requested ≤ booked, done ≤ reported."""
    v.not_before("booked_for", row.get("booked_for"), "requested_on", row.get("requested_on"))
    v.not_before("done_on", row.get("done_on"), "requested_on", row.get("requested_on"))
    v.not_before("reported_on", row.get("reported_on"), "requested_on", row.get("requested_on"))
    v.not_before("reported_on", row.get("reported_on"), "done_on", row.get("done_on"))
    if row.get("status") == "booked" and row.get("booked_for") is None:
        raise ValidationError("booked_for", "give the appointment date when booking")
    if row.get("status") in _NOT_YET_REQUESTED and row.get("booked_for") is not None:
        # An appointment for something nobody has requested: the row would read as
        # outstanding and booked at once.
        raise ValidationError(
            "booked_for",
            "is for a requested investigation: set the status to booked, or clear the date",
        )


def update_investigation(
    ctx: ServiceContext,
    investigation_id: int,
    seen_version: int,
    changes: dict[str, Any],
    today: dt.date | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Change an investigation's status, dates or result (audited, version-checked)."""
    today = today or dt.date.today()
    cleaned = validate_investigation_changes(changes, today)
    with ctx.writing("update_investigation") as session:
        row = session.get(Investigation, investigation_id)
        if row is None:
            raise NotFoundError("investigation", investigation_id)
        return _update(session, ctx, row, seen_version, cleaned, today)


def _update(
    session: Session,
    ctx: ServiceContext,
    row: Investigation,
    seen_version: int,
    cleaned: dict[str, Any],
    today: dt.date,
) -> dict[str, tuple[Any, Any]]:
    status = cleaned.get("status")
    date_field = STATUS_DATE_FIELD.get(status or "")
    if date_field and date_field not in cleaned and getattr(row, date_field) is None:
        cleaned[date_field] = today
    if status in ("done", "reported") and row.requested_on is None:
        cleaned.setdefault("requested_on", cleaned.get("done_on") or today)
    if status == "reported" and row.done_on is None:
        cleaned.setdefault("done_on", cleaned.get("reported_on") or today)
    merged = {key: getattr(row, key) for key in EDITABLE_FIELDS} | cleaned
    check_investigation_dates(merged)
    return apply_update(session, ctx.actor, row, cleaned, seen_version)


@dataclass(frozen=True)
class InvestigationEdit:
    """One row of the workup as the user edited it: the version they saw, what changed."""

    investigation_id: int
    seen_version: int
    changes: dict[str, Any]


@dataclass(frozen=True)
class WorkupSave:
    """What a save of the workup did: each edit saved or refused (and why), and the
    case's investigations as they stand after it, read in the same transaction."""

    saved: tuple[int, ...]
    refused: tuple[tuple[int, CupboardError], ...]
    investigations: tuple[InvestigationRow, ...]


def save_workup_edits(
    ctx: ServiceContext,
    case_id: int,
    edits: Sequence[InvestigationEdit],
    today: dt.date | None = None,
) -> WorkupSave:
    """Save a navigator's edits to several investigations of one case at once.

    Each edit stands on its own, as if saved alone: it is validated, version-checked
    and audited, and a refused one (a conflict, a date out of order) changes nothing
    while the others are kept (a savepoint each). The case's investigations are read
    once, at the start of the transaction, and returned as the save left them, so the
    screen shows what was saved together with anyone else's changes without another
    query (issue 8: one round trip fewer than reading them back).
    """
    today = today or dt.date.today()
    if len(edits) == 1:
        # The usual save, one row: no savepoint needed (one costs more than the save).
        edit = edits[0]
        try:
            with ctx.writing("update_investigation") as session:
                investigations = _investigations_to_edit(session, case_id)
                _update_of_case(session, ctx, investigations, edit, today)
                return WorkupSave((edit.investigation_id,), (), _as_saved(investigations))
        except (PermissionDeniedError, SessionExpiredError):
            raise  # not this row's fault: nothing of the session's may be saved
        except CupboardError as error:
            # The failed transaction is gone: read the case as it stands, afresh.
            with unit_of_work(ctx.database_url, writes=False) as session:
                refusal = ((edit.investigation_id, error),)
                return WorkupSave((), refusal, investigations_of_case(session, case_id))
    saved: list[int] = []
    refused: list[tuple[int, CupboardError]] = []
    with ctx.writing("update_investigation") as session:
        investigations = _investigations_to_edit(session, case_id)
        for edit in edits:
            try:
                with session.begin_nested():
                    _update_of_case(session, ctx, investigations, edit, today)
            except CupboardError as error:
                # The savepoint's rollback expired what it changed: reading the row
                # below loads it again as stored.
                refused.append((edit.investigation_id, error))
            else:
                saved.append(edit.investigation_id)
        result = WorkupSave(tuple(saved), tuple(refused), _as_saved(investigations))
    # A row lost to someone else's save is refused inside the transaction (its savepoint
    # rolled back), so the context never sees it: audit it here, as writing() would.
    for _, error in refused:
        if isinstance(error, ConflictError):
            ctx.audit_refusal("update_investigation", error)
    return result


def _investigations_to_edit(session: Session, case_id: int) -> dict[int, Investigation]:
    """Every investigation of the case, by id, in creation order (as the workup reads
    them), loaded to be changed in this transaction."""
    rows = session.scalars(
        select(Investigation).where(Investigation.case_id == case_id).order_by(Investigation.id)
    )
    return {row.id: row for row in rows}


def _as_saved(investigations: dict[int, Investigation]) -> tuple[InvestigationSnapshot, ...]:
    """The case's investigations as this transaction leaves them (flushed: the saved
    values and their new versions)."""
    return tuple(InvestigationSnapshot.of(row) for row in investigations.values())


def _update_of_case(
    session: Session,
    ctx: ServiceContext,
    investigations: dict[int, Investigation],
    edit: InvestigationEdit,
    today: dt.date,
) -> None:
    cleaned = validate_investigation_changes(edit.changes, today)
    row = investigations.get(edit.investigation_id)
    if row is None:  # not an investigation of this case
        raise NotFoundError("investigation", edit.investigation_id)
    _update(session, ctx, row, edit.seen_version, cleaned, today)


def mark_reviewed(
    ctx: ServiceContext, investigation_id: int, seen_version: int, today: dt.date | None = None
) -> dict[str, tuple[Any, Any]]:
    """The responsible clinician has read a reported result."""
    today = today or dt.date.today()
    with ctx.writing("update_investigation") as session:
        row = session.get(Investigation, investigation_id)
        if row is None:
            raise NotFoundError("investigation", investigation_id)
        if row.status != "reported":
            raise ValidationError("status", "only a reported result can be marked reviewed")
        changes = {"reviewed_on": today, "reviewed_by_id": ctx.actor.user_id}
        return apply_update(session, ctx.actor, row, changes, seen_version)
