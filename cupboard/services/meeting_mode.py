"""Meeting mode: the board walks a meeting's agenda one case at a time.

Opening a case stamps when its discussion started (and closes the one before), and
the first case opened stamps when the meeting started; so the minutes per case and
per meeting are recorded without anyone pressing a stopwatch. Every stamp is an
audited update of the agenda item or meeting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cupboard.errors import NotFoundError, ValidationError
from cupboard.knowledge.decisions import DECISION_LABELS, DISCIPLINES
from cupboard.models import AgendaItem, Case, Decision, MdtMeeting, Patient, User, utcnow
from cupboard.services.audit import apply_update
from cupboard.services.context import ServiceContext
from cupboard.services.reading import age_on


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes for UTC columns; PostgreSQL aware ones."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def elapsed(
    started: dt.datetime | None, ended: dt.datetime | None, now: dt.datetime | None = None
) -> dt.timedelta | None:
    """How long something ran: to its end, or to now while it runs; None if not begun."""
    start = as_utc(started)
    if start is None:
        return None
    end = as_utc(ended) or as_utc(now) or utcnow()
    return max(end - start, dt.timedelta(0))


def clock(duration: dt.timedelta | None) -> str:
    """``7:05`` (minutes:seconds) or ``1:02:09``; an em dash when not begun."""
    if duration is None:
        return "—"
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@dataclass(frozen=True)
class MeetingCase:
    """One agenda item as meeting mode shows it."""

    agenda_item_id: int
    version: int
    position: int
    case_id: int
    pseudonym: str
    age: int
    sex: str
    question: str | None
    presented_by: str | None
    discussion_started_at: dt.datetime | None
    discussion_ended_at: dt.datetime | None
    decision_id: int | None  # the current decision recorded at this meeting
    decision_label: str | None

    @property
    def is_open(self) -> bool:
        return self.discussion_started_at is not None and self.discussion_ended_at is None


@dataclass(frozen=True)
class MeetingSession:
    meeting_id: int
    version: int
    meeting_date: dt.date
    title: str
    chair_id: int | None
    chair: str | None
    attendees: tuple[dict[str, str], ...]
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    cases: tuple[MeetingCase, ...]

    @property
    def decided(self) -> int:
        return sum(1 for c in self.cases if c.decision_id is not None)

    def index_of(self, agenda_item_id: int | None) -> int:
        for n, item in enumerate(self.cases):
            if item.agenda_item_id == agenda_item_id:
                return n
        return 0

    @property
    def attendee_text(self) -> str:
        return ", ".join(
            f"{a.get('name')} ({DISCIPLINES.get(a.get('discipline', ''), a.get('discipline'))})"
            for a in self.attendees
        )


def meeting_session(
    ctx: ServiceContext, meeting_id: int, today: dt.date | None = None
) -> MeetingSession:
    """The meeting and its agenda in order, with the decision recorded for each case."""
    today = today or dt.date.today()
    with ctx.reading("view_cases") as session:
        meeting = session.get(MdtMeeting, meeting_id)
        if meeting is None:
            raise NotFoundError("meeting", meeting_id)
        chair = session.get(User, meeting.chair_id) if meeting.chair_id else None
        rows = session.execute(
            select(AgendaItem, Patient.pseudonym, Patient.date_of_birth, Patient.sex)
            .join(Case, AgendaItem.case_id == Case.id)
            .join(Patient, Case.patient_id == Patient.id)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position, AgendaItem.id)
        ).all()
        decided = {
            case_id: (decision_id, code)
            for case_id, decision_id, code in session.execute(
                select(Decision.case_id, Decision.id, Decision.code)
                .where(Decision.meeting_id == meeting_id, Decision.superseded.is_(False))
                .order_by(Decision.id)
            )
        }
        cases = []
        for item, pseudonym, dob, sex in rows:
            decision = decided.get(item.case_id)
            cases.append(
                MeetingCase(
                    agenda_item_id=item.id,
                    version=item.version,
                    position=item.position,
                    case_id=item.case_id,
                    pseudonym=pseudonym,
                    age=age_on(dob, today),
                    sex=sex,
                    question=item.question,
                    presented_by=item.presented_by,
                    discussion_started_at=as_utc(item.discussion_started_at),
                    discussion_ended_at=as_utc(item.discussion_ended_at),
                    decision_id=decision[0] if decision else None,
                    decision_label=DECISION_LABELS.get(decision[1]) if decision else None,
                )
            )
        return MeetingSession(
            meeting_id=meeting.id,
            version=meeting.version,
            meeting_date=meeting.meeting_date,
            title=meeting.title,
            chair_id=meeting.chair_id,
            chair=chair.display_name if chair else None,
            attendees=tuple(dict(a) for a in meeting.attendees or ()),
            started_at=as_utc(meeting.started_at),
            ended_at=as_utc(meeting.ended_at),
            cases=tuple(cases),
        )


def _stamp(session: Any, ctx: ServiceContext, row: Any, field: str, value: object) -> None:
    apply_update(session, ctx.actor, row, {field: value}, row.version)


def open_case(
    ctx: ServiceContext, meeting_id: int, agenda_item_id: int, now: dt.datetime | None = None
) -> None:
    """The board turns to this case: its discussion starts (once), any other open
    discussion of the meeting ends, and the meeting starts if it had not."""
    now = now or utcnow()
    with ctx.writing("run_meeting") as session:
        meeting = session.get(MdtMeeting, meeting_id)
        if meeting is None:
            raise NotFoundError("meeting", meeting_id)
        item = session.get(AgendaItem, agenda_item_id)
        if item is None or item.meeting_id != meeting_id:
            raise NotFoundError("agenda item", agenda_item_id)
        if meeting.ended_at is not None:
            raise ValidationError("meeting", "has ended; its timings are no longer recorded")
        if meeting.started_at is None:
            _stamp(session, ctx, meeting, "started_at", now)
        others = session.scalars(
            select(AgendaItem).where(
                AgendaItem.meeting_id == meeting_id,
                AgendaItem.id != agenda_item_id,
                AgendaItem.discussion_started_at.is_not(None),
                AgendaItem.discussion_ended_at.is_(None),
            )
        )
        for other in others:
            _stamp(session, ctx, other, "discussion_ended_at", now)
        if item.discussion_started_at is None:
            _stamp(session, ctx, item, "discussion_started_at", now)


def end_meeting(ctx: ServiceContext, meeting_id: int, now: dt.datetime | None = None) -> None:
    """Close the open discussion and stamp the meeting's end."""
    now = now or utcnow()
    with ctx.writing("run_meeting") as session:
        meeting = session.get(MdtMeeting, meeting_id)
        if meeting is None:
            raise NotFoundError("meeting", meeting_id)
        if meeting.ended_at is not None:
            raise ValidationError("meeting", "has already ended")
        for item in session.scalars(
            select(AgendaItem).where(
                AgendaItem.meeting_id == meeting_id,
                AgendaItem.discussion_started_at.is_not(None),
                AgendaItem.discussion_ended_at.is_(None),
            )
        ):
            _stamp(session, ctx, item, "discussion_ended_at", now)
        if meeting.started_at is None:
            _stamp(session, ctx, meeting, "started_at", now)
        _stamp(session, ctx, meeting, "ended_at", now)
