"""MDT meetings and their agendas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

from cupboard import validation as v
from cupboard.errors import ConflictError, NotFoundError, ValidationError
from cupboard.knowledge.decisions import DISCIPLINES
from cupboard.models import AgendaItem, MdtMeeting, utcnow
from cupboard.services.audit import apply_update, record_creation, record_event
from cupboard.services.cases import get_case
from cupboard.services.context import ServiceContext


def validate_attendees(attendees: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    if not isinstance(attendees, list | tuple):
        raise ValidationError("attendees", "must be a list of {name, discipline} entries")
    cleaned = []
    for i, attendee in enumerate(attendees):
        if not isinstance(attendee, Mapping):
            raise ValidationError(f"attendees[{i}]", "must have a name and a discipline")
        name = v.identity_text(f"attendees[{i}].name", attendee.get("name"), 120)
        discipline = v.choice(f"attendees[{i}].discipline", attendee.get("discipline"), DISCIPLINES)
        cleaned.append({"name": name, "discipline": discipline})
    return cleaned


def create_meeting(
    ctx: ServiceContext,
    *,
    meeting_date: dt.date | str,
    title: str = "CUP MDT",
    chair_id: int | None = None,
    attendees: Sequence[dict[str, Any]] = (),
) -> int:
    meeting = MdtMeeting(
        meeting_date=v.date("meeting_date", meeting_date),
        title=v.text("title", title, 200),
        chair_id=v.optional_integer("chair_id", chair_id, 1, 2**31),
        attendees=validate_attendees(attendees),
    )
    with ctx.writing("schedule_meeting") as session:
        session.add(meeting)
        record_creation(session, ctx.actor, meeting)
        return meeting.id


def update_meeting(
    ctx: ServiceContext, meeting_id: int, seen_version: int, changes: dict[str, Any]
) -> dict[str, tuple[Any, Any]]:
    validators = {
        "meeting_date": lambda x: v.date("meeting_date", x),
        "title": lambda x: v.text("title", x, 200),
        "chair_id": lambda x: v.optional_integer("chair_id", x, 1, 2**31),
        "attendees": validate_attendees,
    }
    cleaned = {}
    for key, value in changes.items():
        if key not in validators:
            raise ValidationError(key, "is not a field of a meeting")
        cleaned[key] = validators[key](value)
    with ctx.writing("schedule_meeting") as session:
        meeting = session.get(MdtMeeting, meeting_id)
        if meeting is None:
            raise NotFoundError("meeting", meeting_id)
        return apply_update(session, ctx.actor, meeting, cleaned, seen_version)


def add_to_agenda(
    ctx: ServiceContext,
    meeting_id: int,
    case_id: int,
    question: str | None = None,
    presented_by: str | None = None,
) -> int:
    """Queue a case for a meeting, at the end of the agenda; returns the item id."""
    question = v.optional_text("question", question, v.MAX_LONG_TEXT)
    presented_by = v.optional_identity_text("presented_by", presented_by, 120)
    with ctx.writing("schedule_meeting") as session:
        # Lock the meeting row so that two navigators adding cases at once do not
        # both take the same next position (SQLite serialises writers itself).
        meeting = session.scalar(
            select(MdtMeeting).where(MdtMeeting.id == meeting_id).with_for_update()
        )
        if meeting is None:
            raise NotFoundError("meeting", meeting_id)
        get_case(session, case_id)
        exists = session.scalar(
            select(AgendaItem.id).where(
                AgendaItem.meeting_id == meeting_id, AgendaItem.case_id == case_id
            )
        )
        if exists is not None:
            raise ValidationError("case", "is already on this meeting's agenda")
        last = session.scalar(
            select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting_id)
        )
        item = AgendaItem(
            meeting_id=meeting_id,
            case_id=case_id,
            position=(last or 0) + 1,
            question=question,
            presented_by=presented_by,
        )
        session.add(item)
        record_creation(session, ctx.actor, item)
        return item.id


def remove_from_agenda(ctx: ServiceContext, agenda_item_id: int, seen_version: int) -> None:
    """Take a case off an agenda. The removal is audited with the item's last values."""
    with ctx.writing("schedule_meeting") as session:
        item = session.get(AgendaItem, agenda_item_id)
        if item is None:
            raise NotFoundError("agenda item", agenda_item_id)
        if item.version != seen_version:
            raise ConflictError("agenda_item", agenda_item_id)
        record_event(
            session,
            ctx.actor,
            "delete",
            "agenda_item",
            item.id,
            case_id=item.case_id,
            reason=f"removed from meeting {item.meeting_id} (position {item.position})",
        )
        session.delete(item)


def move_agenda_item(ctx: ServiceContext, agenda_item_id: int, new_position: int) -> None:
    """Move an item to a 1-based position, renumbering the others in order."""
    with ctx.writing("schedule_meeting") as session:
        item = session.get(AgendaItem, agenda_item_id)
        if item is None:
            raise NotFoundError("agenda item", agenda_item_id)
        session.scalar(
            select(MdtMeeting.id).where(MdtMeeting.id == item.meeting_id).with_for_update()
        )
        items = list(
            session.scalars(
                select(AgendaItem)
                .where(AgendaItem.meeting_id == item.meeting_id)
                .order_by(AgendaItem.position, AgendaItem.id)
            )
        )
        v.integer("position", new_position, 1, len(items))
        items.remove(item)
        items.insert(new_position - 1, item)
        for position, each in enumerate(items, start=1):
            if each.position != position:
                apply_update(session, ctx.actor, each, {"position": position}, each.version)


def mark_discussion(ctx: ServiceContext, agenda_item_id: int, *, started: bool) -> None:
    """Stamp when the board starts or finishes discussing a case (minutes per case)."""
    with ctx.writing("run_meeting") as session:
        item = session.get(AgendaItem, agenda_item_id)
        if item is None:
            raise NotFoundError("agenda item", agenda_item_id)
        field = "discussion_started_at" if started else "discussion_ended_at"
        apply_update(session, ctx.actor, item, {field: utcnow()}, item.version)
