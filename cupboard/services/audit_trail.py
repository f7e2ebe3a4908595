"""Reading the audit trail: filtered, newest first, one page at a time.

The trail only grows, so it is read in pages by a cursor (the id of the oldest row
shown), never by loading the table. Values are stored as JSON text; here they become
plain text for the screen: the page renders them as text, never as markup.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from cupboard import validation as v
from cupboard.errors import ValidationError
from cupboard.models import AuditEvent, Base
from cupboard.permissions import may
from cupboard.services.context import ServiceContext
from cupboard.stored_values import EMPTY, display_value

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# Events about accounts (sign-ins, role changes) are for administrators only.
ACCOUNT_ENTITY = "user"


def _entity_name(table_name: str) -> str:
    # Mirrors cupboard.services.audit: a row of "investigations" is an "investigation".
    return table_name.rstrip("s")


# Every editable table, and what events (imports, exports) are about besides rows.
AUDIT_ENTITIES: tuple[str, ...] = tuple(
    sorted(
        {_entity_name(t.name) for t in Base.metadata.sorted_tables if "version" in t.c}
        | {"cohort", "referral_file"}
    )
)
AUDIT_ACTIONS: tuple[str, ...] = (
    "create",
    "update",
    "delete",
    "import",
    "export",
    "sign_in",
    "sign_in_refused",
)


def visible_entities(ctx: ServiceContext) -> tuple[str, ...]:
    """The entities this user may filter the trail by."""
    if may(ctx.actor.role, "manage_users"):
        return AUDIT_ENTITIES
    return tuple(e for e in AUDIT_ENTITIES if e != ACCOUNT_ENTITY)


@dataclass(frozen=True)
class AuditFilter:
    """What to show; every part optional. Dates are inclusive, in UTC."""

    case_id: int | None = None
    username: str | None = None
    entity: str | None = None
    action: str | None = None
    entity_id: int | None = None
    from_date: dt.date | None = None
    to_date: dt.date | None = None


@dataclass(frozen=True)
class AuditRow:
    """One audit event as plain text for display."""

    id: int
    occurred_at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    entity_version: int | None
    case_id: int | None
    field: str | None
    before: str
    after: str
    reason: str | None

    @property
    def change(self) -> str:
        """``field: before → after`` for an update; the values given for a creation."""
        if self.action == "update":
            return f"{self.field}: {self.before} → {self.after}"
        if self.action == "create":
            return "created" if self.after == EMPTY else f"created with {self.after}"
        return self.reason or self.action.replace("_", " ")


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    # Pass as ``before_id`` for the next (older) page; None when this is the last.
    next_before_id: int | None


def validate_filter(raw: AuditFilter, ctx: ServiceContext) -> AuditFilter:
    from_date = v.optional_date("from_date", raw.from_date)
    to_date = v.optional_date("to_date", raw.to_date)
    v.not_before("to_date", to_date, "from_date", from_date)
    username = v.optional_text("user", raw.username, 64)
    return AuditFilter(
        case_id=v.optional_integer("case_id", raw.case_id, 1, 2**31),
        username=username.lower() if username else None,
        entity=v.optional_choice("entity", raw.entity, visible_entities(ctx)),
        action=v.optional_choice("action", raw.action, AUDIT_ACTIONS),
        entity_id=v.optional_integer("entity_id", raw.entity_id, 1, 2**31),
        from_date=from_date,
        to_date=to_date,
    )


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def audit_trail(
    ctx: ServiceContext,
    filters: AuditFilter | None = None,
    *,
    before_id: int | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    """One page of the trail, newest first. Refuses a bad filter naming the field."""
    wanted = validate_filter(filters or AuditFilter(), ctx)
    limit = v.integer("limit", limit, 1, MAX_PAGE_SIZE)
    before_id = v.optional_integer("before_id", before_id, 1, 2**63 - 1)
    query = select(AuditEvent)
    if not may(ctx.actor.role, "manage_users"):
        query = query.where(AuditEvent.entity != ACCOUNT_ENTITY)
    if wanted.case_id is not None:
        query = query.where(AuditEvent.case_id == wanted.case_id)
    if wanted.username is not None:
        query = query.where(func.lower(AuditEvent.actor_username) == wanted.username)
    if wanted.entity is not None:
        query = query.where(AuditEvent.entity == wanted.entity)
    if wanted.entity_id is not None:
        if wanted.entity is None:
            raise ValidationError("entity_id", "choose the kind of record (entity) first")
        query = query.where(AuditEvent.entity_id == wanted.entity_id)
    if wanted.action is not None:
        query = query.where(AuditEvent.action == wanted.action)
    if wanted.from_date is not None:
        query = query.where(AuditEvent.occurred_at >= _start_of(wanted.from_date))
    if wanted.to_date is not None:
        next_day = wanted.to_date + dt.timedelta(days=1)
        query = query.where(AuditEvent.occurred_at < _start_of(next_day))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    # One row more than asked says whether an older page exists.
    query = query.order_by(AuditEvent.id.desc()).limit(limit + 1)
    with ctx.reading("view_audit") as session:
        events = list(session.scalars(query))
    more = len(events) > limit
    events = events[:limit]
    rows = [
        AuditRow(
            id=e.id,
            occurred_at=e.occurred_at
            if e.occurred_at.tzinfo is not None
            else e.occurred_at.replace(tzinfo=dt.UTC),
            actor=e.actor_username,
            action=e.action,
            entity=e.entity,
            entity_id=e.entity_id,
            entity_version=e.entity_version,
            case_id=e.case_id,
            field=e.field,
            before=display_value(e.before),
            after=display_value(e.after),
            reason=e.reason,
        )
        for e in events
    ]
    return AuditPage(rows=rows, next_before_id=rows[-1].id if more and rows else None)
