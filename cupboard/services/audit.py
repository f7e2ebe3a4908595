"""The audit trail: every create and update of clinical data, field by field.

Rows are append-only (database triggers refuse UPDATE and DELETE). A correction is a
new event; nothing here ever edits an old one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cupboard.errors import ConflictError, MissedChange
from cupboard.models import AuditEvent, Base, utcnow
from cupboard.permissions import Actor


def to_json(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date | dt.datetime):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _entity_name(obj: Base) -> str:
    return obj.__tablename__.rstrip("s") if obj.__tablename__ != "settings" else "setting"


def _case_id_of(obj: Base) -> int | None:
    if obj.__tablename__ == "cases":
        return obj.id  # type: ignore[attr-defined,no-any-return]
    return getattr(obj, "case_id", None)


# Changes to these are audited as happening, never with their values.
SECRET_FIELDS = frozenset({"password_hash"})
REDACTED = "[redacted]"
# Kept in step with the name and numbers they fold (the case finder's keys): the
# audit records the name and MRN themselves.
DERIVED_FIELDS = frozenset({"search_name", "search_id"})


def _columns(obj: Base) -> list[str]:
    skip = {"version", "updated_at", *DERIVED_FIELDS, *SECRET_FIELDS}
    return [c.key for c in inspect(obj).mapper.column_attrs if c.key not in skip]


def record_creation(session: Session, actor: Actor, obj: Base, reason: str | None = None) -> None:
    """Audit a new row (flushes to obtain its id): one event holding every value."""
    session.flush()
    after = {key: getattr(obj, key) for key in _columns(obj)}
    session.add(
        AuditEvent(
            actor_id=actor.user_id,
            actor_username=actor.username,
            action="create",
            entity=_entity_name(obj),
            entity_id=obj.id,  # type: ignore[attr-defined]
            entity_version=getattr(obj, "version", None),
            case_id=_case_id_of(obj),
            after=to_json(after),
            reason=reason,
            occurred_at=utcnow(),
        )
    )


def missed_changes(
    session: Session, entity: str, entity_id: int, seen_version: int
) -> tuple[MissedChange, ...]:
    rows = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity == entity,
            AuditEvent.entity_id == entity_id,
            AuditEvent.entity_version > seen_version,
        )
        .order_by(AuditEvent.id)
    )
    return tuple(
        MissedChange(
            field=r.field,
            before=r.before,
            after=r.after,
            by=r.actor_username,
            at=r.occurred_at.strftime("%Y-%m-%d %H:%M"),
        )
        for r in rows
    )


def _missed_after_race(
    session: Session, entity: str, entity_id: int, seen_version: int
) -> tuple[MissedChange, ...]:
    try:
        with Session(session.get_bind()) as fresh:
            return missed_changes(fresh, entity, entity_id, seen_version)
    except SQLAlchemyError:  # the conflict itself is what matters; details are a bonus
        return ()


def apply_update(
    session: Session,
    actor: Actor,
    obj: Base,
    changes: Mapping[str, Any],
    seen_version: int,
    reason: str | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Apply validated ``changes`` if the row still has the version the user saw.

    Returns the fields that really changed (before, after); unchanged values write
    nothing and do not bump the version. Raises ConflictError, naming what the user
    missed, when someone else saved first — also when that happens between our read
    and our write (the UPDATE is guarded by ``WHERE version = seen_version``).
    """
    entity = _entity_name(obj)
    entity_id: int = obj.id  # type: ignore[attr-defined]
    if obj.version != seen_version:  # type: ignore[attr-defined]
        raise ConflictError(
            entity, entity_id, missed_changes(session, entity, entity_id, seen_version)
        )
    changed = {
        key: (getattr(obj, key), value)
        for key, value in changes.items()
        if getattr(obj, key) != value
    }
    if not changed:
        return {}
    for key, (_, value) in changed.items():
        setattr(obj, key, value)
    try:
        session.flush()
    except StaleDataError:
        # Someone saved between our read and our write; their transaction has
        # committed, so a fresh session can say what they changed.
        missed = _missed_after_race(session, entity, entity_id, seen_version)
        raise ConflictError(entity, entity_id, missed) from None
    now = utcnow()
    rows = []
    for key, (before, after) in changed.items():
        if key in SECRET_FIELDS:
            before, after = REDACTED, REDACTED
        rows.append(
            {
                "actor_id": actor.user_id,
                "actor_username": actor.username,
                "action": "update",
                "entity": entity,
                "entity_id": entity_id,
                "entity_version": obj.version,  # type: ignore[attr-defined]
                "case_id": _case_id_of(obj),
                "field": key,
                "before": to_json(before),
                "after": to_json(after),
                "reason": reason,
                "occurred_at": now,
            }
        )
    # One statement for all of them, sent now, in the same transaction as the change:
    # the rows are never read back here, so no ORM objects (issue 8: a save's cost).
    session.execute(insert(AuditEvent.__table__), rows)
    return changed


@dataclass(frozen=True)
class AuditEntry:
    occurred_at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    field: str | None
    before: str | None
    after: str | None
    reason: str | None


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    case_id: int | None = None,
    reason: str | None = None,
) -> None:
    """A non-data event worth keeping (sign-in, refused sign-in, export)."""
    session.add(
        AuditEvent(
            actor_id=actor.user_id,
            actor_username=actor.username,
            action=action,
            entity=entity,
            entity_id=entity_id,
            case_id=case_id,
            reason=reason,
            occurred_at=utcnow(),
        )
    )
