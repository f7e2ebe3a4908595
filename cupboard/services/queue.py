"""The MDT queue: the cases on a meeting's agenda and the cases ready for one.

Only the page's rows are read. The rows come from one query over cases and patients
(filtered and limited in SQL); the workup counts, the latest ECOG and the facts the
guidance needs are then read for those case ids alone, in a fixed number of queries
(one per table, the columns needed only), whatever the size of the cohort. The
guidance is computed once per distinct case profile (``case_record.guidance_for``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, exists, func, select
from sqlalchemy.orm import Session, aliased

from cupboard import validation as v
from cupboard.errors import NotFoundError, ValidationError
from cupboard.knowledge.investigations import INVESTIGATIONS_BY_CODE, MISSING_STATUSES
from cupboard.knowledge.pathway import CASE_STATUS_CODES, CASE_STATUS_LABELS
from cupboard.models import AgendaItem, Case, MdtMeeting, Patient, User
from cupboard.services.case_record import guidance_for, load_profiles
from cupboard.services.context import ServiceContext
from cupboard.services.reading import age_on

# Statuses that say an investigation is finished with (done, reported) or will not be
# done (declined); "not indicated" does not count towards the workup at all.
NOT_COUNTED = "not_indicated"
MAX_SEARCH = 100
MAX_READY = 500  # the most "ready, not queued" rows one read returns


@dataclass(frozen=True)
class QueueFilter:
    """What the queue page narrows the list by (empty = everything)."""

    statuses: tuple[str, ...] = ()
    navigator_id: int | None = None
    oncologist_id: int | None = None
    search: str | None = None  # pseudonym, MRN or name, case-insensitive

    def validated(self) -> QueueFilter:
        statuses = tuple(v.choice("status", s, CASE_STATUS_CODES) for s in self.statuses)
        return QueueFilter(
            statuses=statuses,
            navigator_id=v.optional_integer("navigator", self.navigator_id, 1, 2**31),
            oncologist_id=v.optional_integer("oncologist", self.oncologist_id, 1, 2**31),
            search=v.optional_text("search", self.search, MAX_SEARCH),
        )


@dataclass(frozen=True)
class QueueRow:
    """One case as the queue shows it (pseudonymous: no name, MRN or birth date)."""

    case_id: int
    case_version: int
    pseudonym: str
    age: int
    sex: str
    sites: tuple[str, ...]
    status: str
    days_on_pathway: int
    navigator: str | None
    oncologist: str | None
    workup_done: int  # done, reported or declined
    workup_total: int  # every investigation not marked "not indicated"
    outstanding: tuple[str, ...]  # investigation codes still to request/requested/booked
    ecog: int | None
    ecog_on: dt.date | None
    favourable_subtype: str | None  # subtype code, by the guidance
    favourable_label: str | None
    missing_before_mdt: tuple[str, ...]  # required and outstanding, by the guidance
    histology: str | None  # the latest pathology report's, from the case's profile
    agenda_item_id: int | None = None
    agenda_version: int | None = None
    position: int | None = None
    question: str | None = None

    @property
    def status_label(self) -> str:
        return CASE_STATUS_LABELS.get(self.status, self.status)

    @property
    def workup_label(self) -> str:
        return f"{self.workup_done}/{self.workup_total}"

    @property
    def outstanding_labels(self) -> tuple[str, ...]:
        return tuple(INVESTIGATIONS_BY_CODE[c].label for c in self.outstanding)


@dataclass(frozen=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    total: int  # all matching rows, of which ``rows`` is the first page


@dataclass(frozen=True)
class MeetingOption:
    id: int
    version: int
    meeting_date: dt.date
    title: str
    chair: str | None
    cases: int  # on the agenda

    @property
    def label(self) -> str:
        return f"{self.meeting_date:%a %d %b %Y} · {self.title} ({self.cases} cases)"


@dataclass(frozen=True)
class StaffMember:
    id: int
    name: str
    role: str
    discipline: str | None


# ---------------------------------------------------------------------------------
# Meetings and staff for the page's selectors


def meetings(
    ctx: ServiceContext,
    *,
    from_date: dt.date | None = None,
    include: int | None = None,
    limit: int = 20,
) -> list[MeetingOption]:
    """Meetings from a date on (today by default), soonest first, with their agenda
    size; ``include`` adds one more meeting (a deep link to a past meeting)."""
    from_date = from_date or dt.date.today()
    counts = (
        select(AgendaItem.meeting_id, func.count(AgendaItem.id).label("cases"))
        .group_by(AgendaItem.meeting_id)
        .subquery()
    )
    query = (
        select(
            MdtMeeting.id,
            MdtMeeting.version,
            MdtMeeting.meeting_date,
            MdtMeeting.title,
            User.display_name,
            func.coalesce(counts.c.cases, 0),
        )
        .outerjoin(counts, counts.c.meeting_id == MdtMeeting.id)
        .outerjoin(User, MdtMeeting.chair_id == User.id)
        .order_by(MdtMeeting.meeting_date, MdtMeeting.id)
    )
    with ctx.reading("view_cases") as session:
        rows = list(session.execute(query.where(MdtMeeting.meeting_date >= from_date).limit(limit)))
        if include is not None and all(row[0] != include for row in rows):
            rows += list(session.execute(query.where(MdtMeeting.id == include)))
            rows.sort(key=lambda row: (row[2], row[0]))
        return [
            MeetingOption(meeting_id, version, day, title, chair, int(n))
            for meeting_id, version, day, title, chair, n in rows
        ]


def next_meeting_id(options: Sequence[MeetingOption], today: dt.date | None = None) -> int | None:
    """The first meeting on or after today, else the latest one."""
    today = today or dt.date.today()
    upcoming = [m for m in options if m.meeting_date >= today]
    if upcoming:
        return min(upcoming, key=lambda m: (m.meeting_date, m.id)).id
    return options[-1].id if options else None


def staff(ctx: ServiceContext, roles: Sequence[str]) -> list[StaffMember]:
    """Active users with one of ``roles`` (for the navigator/oncologist filters)."""
    with ctx.reading("view_cases") as session:
        rows = session.execute(
            select(User.id, User.display_name, User.role, User.discipline)
            .where(User.role.in_(roles), User.is_active.is_(True))
            .order_by(User.display_name)
        )
        return [StaffMember(*row) for row in rows]


# ---------------------------------------------------------------------------------
# Rows


def _base_query(filters: QueueFilter) -> Select:  # type: ignore[type-arg]
    oncologist, navigator = aliased(User), aliased(User)
    query = (
        select(
            Case.id,
            Case.version,
            Case.status,
            Case.pathway_start,
            Case.metastatic_sites,
            Patient.pseudonym,
            Patient.sex,
            Patient.date_of_birth,
            navigator.display_name,
            oncologist.display_name,
        )
        .join(Patient, Case.patient_id == Patient.id)
        .outerjoin(oncologist, Case.oncologist_id == oncologist.id)
        .outerjoin(navigator, Case.navigator_id == navigator.id)
    )
    if filters.statuses:
        query = query.where(Case.status.in_(filters.statuses))
    if filters.navigator_id is not None:
        query = query.where(Case.navigator_id == filters.navigator_id)
    if filters.oncologist_id is not None:
        query = query.where(Case.oncologist_id == filters.oncologist_id)
    if filters.search:
        term = filters.search.lower()
        query = query.where(
            func.lower(Patient.pseudonym).contains(term, autoescape=True)
            | func.lower(Patient.mrn).contains(term, autoescape=True)
            | func.lower(Patient.name).contains(term, autoescape=True)
        )
    return query


def _workup_summary(statuses: dict[str, str]) -> tuple[int, int, tuple[str, ...]]:
    """(done, total, outstanding codes) of one case's investigation statuses: total is
    every investigation not marked "not indicated", done those finished with (done,
    reported) or declined, outstanding those still to request, requested or booked."""
    counted = [(code, s) for code, s in statuses.items() if s != NOT_COUNTED]
    outstanding = tuple(code for code, s in counted if s in MISSING_STATUSES)
    return len(counted) - len(outstanding), len(counted), outstanding


def _rows(
    session: Session,
    base: Sequence[tuple],  # type: ignore[type-arg]
    agenda: dict[int, Row[Any]],  # case id -> its agenda item (id, version, position, question)
    today: dt.date,
) -> tuple[QueueRow, ...]:
    case_ids = [r[0] for r in base]
    if not case_ids:
        return ()
    # One read of each table for every row: the statuses give the workup counts and
    # the guidance's profile alike; the latest ECOG is picked in SQL.
    batch = load_profiles(session, case_ids, today)
    result = []
    for (
        case_id,
        version,
        status,
        pathway_start,
        sites,
        pseudonym,
        sex,
        dob,
        navigator,
        oncologist,
    ) in base:
        guidance = guidance_for(batch.profiles[case_id])
        subtype = guidance.favourable_subtype
        done, total, outstanding = _workup_summary(batch.workup.get(case_id, {}))
        latest = batch.latest_ecog.get(case_id)
        item = agenda.get(case_id)
        result.append(
            QueueRow(
                case_id=case_id,
                case_version=version,
                pseudonym=pseudonym,
                age=age_on(dob, today),
                sex=sex,
                sites=tuple(sites or ()),
                status=status,
                days_on_pathway=(today - pathway_start).days,
                navigator=navigator,
                oncologist=oncologist,
                workup_done=done,
                workup_total=total,
                outstanding=outstanding,
                ecog=latest[0] if latest else None,
                ecog_on=latest[1] if latest else None,
                favourable_subtype=subtype.code if subtype else None,
                favourable_label=subtype.manage_as if subtype else None,
                missing_before_mdt=guidance.missing_workup,
                histology=batch.profiles[case_id].histology,
                agenda_item_id=item.id if item else None,
                agenda_version=item.version if item else None,
                position=item.position if item else None,
                question=item.question if item else None,
            )
        )
    return tuple(result)


def meeting_queue(
    ctx: ServiceContext,
    meeting_id: int,
    filters: QueueFilter = QueueFilter(),
    today: dt.date | None = None,
) -> list[QueueRow]:
    """The cases on a meeting's agenda, in agenda order, narrowed by ``filters``."""
    filters = filters.validated()
    today = today or dt.date.today()
    with ctx.reading("view_cases") as session:
        if session.scalar(select(MdtMeeting.id).where(MdtMeeting.id == meeting_id)) is None:
            raise NotFoundError("meeting", meeting_id)
        items = {
            item.case_id: item
            for item in session.execute(
                select(
                    AgendaItem.case_id,
                    AgendaItem.id,
                    AgendaItem.version,
                    AgendaItem.position,
                    AgendaItem.question,
                ).where(AgendaItem.meeting_id == meeting_id)
            )
        }
        query = (
            _base_query(filters)
            .join(AgendaItem, AgendaItem.case_id == Case.id)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position, AgendaItem.id)
        )
        base = list(session.execute(query))
        return list(_rows(session, base, items, today))


def ready_not_queued(
    ctx: ServiceContext,
    filters: QueueFilter = QueueFilter(),
    *,
    today: dt.date | None = None,
    limit: int = 50,
) -> QueuePage:
    """Cases ready for MDT that are on no meeting from today on, longest waiting first.

    The status filter does not apply (these are all "ready for MDT"); the navigator,
    oncologist and search filters do.
    """
    filters = filters.validated()
    if not 1 <= limit <= MAX_READY:
        raise ValidationError("limit", f"must be between 1 and {MAX_READY}")
    today = today or dt.date.today()
    on_upcoming_meeting = exists(
        select(AgendaItem.id)
        .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
        .where(AgendaItem.case_id == Case.id, MdtMeeting.meeting_date >= today)
    )
    unfiltered = QueueFilter(
        navigator_id=filters.navigator_id,
        oncologist_id=filters.oncologist_id,
        search=filters.search,
    )
    query = _base_query(unfiltered).where(Case.status == "ready_for_mdt", ~on_upcoming_meeting)
    with ctx.reading("view_cases") as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        base = list(session.execute(query.order_by(Case.pathway_start, Case.id).limit(limit)))
        return QueuePage(_rows(session, base, {}, today), int(total))
