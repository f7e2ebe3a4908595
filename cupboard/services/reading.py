"""Read models for the screens: only the rows a page shows, as plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import NotFoundError
from cupboard.models import AgendaItem, Case, Investigation, MdtMeeting, Patient
from cupboard.services.context import ServiceContext


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    years = day.year - date_of_birth.year
    return years - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


@dataclass(frozen=True)
class MeetingRow:
    id: int
    meeting_date: dt.date
    title: str
    version: int


def list_meetings(
    ctx: ServiceContext, from_date: dt.date | None = None, limit: int = 20
) -> list[MeetingRow]:
    """Meetings from a date on (upcoming by default), soonest first."""
    ctx.require("view_cases")
    from_date = from_date or dt.date.today()
    with unit_of_work(ctx.database_url) as session:
        rows = session.execute(
            select(MdtMeeting.id, MdtMeeting.meeting_date, MdtMeeting.title, MdtMeeting.version)
            .where(MdtMeeting.meeting_date >= from_date)
            .order_by(MdtMeeting.meeting_date, MdtMeeting.id)
            .limit(limit)
        )
        return [MeetingRow(*row) for row in rows]


@dataclass(frozen=True)
class AgendaRow:
    agenda_item_id: int
    position: int
    case_id: int
    pseudonym: str
    age: int
    sex: str
    metastatic_sites: list[str]
    status: str
    days_since_pathway_start: int
    question: str | None


def agenda(ctx: ServiceContext, meeting_id: int, today: dt.date | None = None) -> list[AgendaRow]:
    ctx.require("view_cases")
    today = today or dt.date.today()
    with unit_of_work(ctx.database_url) as session:
        if session.get(MdtMeeting, meeting_id) is None:
            raise NotFoundError("meeting", meeting_id)
        rows = session.execute(
            select(AgendaItem, Case, Patient)
            .join(Case, AgendaItem.case_id == Case.id)
            .join(Patient, Case.patient_id == Patient.id)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position, AgendaItem.id)
        )
        return [
            AgendaRow(
                agenda_item_id=item.id,
                position=item.position,
                case_id=case.id,
                pseudonym=patient.pseudonym,
                age=age_on(patient.date_of_birth, today),
                sex=patient.sex,
                metastatic_sites=list(case.metastatic_sites or []),
                status=case.status,
                days_since_pathway_start=(today - case.pathway_start).days,
                question=item.question,
            )
            for item, case, patient in rows
        ]


@dataclass(frozen=True)
class InvestigationRow:
    id: int
    code: str
    status: str
    requested_on: dt.date | None
    booked_for: dt.date | None
    done_on: dt.date | None
    reported_on: dt.date | None
    result_text: str | None
    version: int


@dataclass(frozen=True)
class CaseHeader:
    case_id: int
    pseudonym: str
    mrn: str
    name: str
    sex: str
    date_of_birth: dt.date
    age: int
    status: str
    diagnostic_stage: str
    pathway_start: dt.date
    metastatic_sites: list[str]
    lesion_count: int | None
    version: int


def case_header(ctx: ServiceContext, case_id: int, today: dt.date | None = None) -> CaseHeader:
    ctx.require("view_cases")
    today = today or dt.date.today()
    with unit_of_work(ctx.database_url) as session:
        row = session.execute(select(Case, Patient).join(Patient).where(Case.id == case_id)).first()
        if row is None:
            raise NotFoundError("case", case_id)
        case, patient = row
        return CaseHeader(
            case_id=case.id,
            pseudonym=patient.pseudonym,
            mrn=patient.mrn,
            name=patient.name,
            sex=patient.sex,
            date_of_birth=patient.date_of_birth,
            age=age_on(patient.date_of_birth, today),
            status=case.status,
            diagnostic_stage=case.diagnostic_stage,
            pathway_start=case.pathway_start,
            metastatic_sites=list(case.metastatic_sites or []),
            lesion_count=case.lesion_count,
            version=case.version,
        )


def investigations(ctx: ServiceContext, case_id: int) -> list[InvestigationRow]:
    ctx.require("view_cases")
    with unit_of_work(ctx.database_url) as session:
        rows = session.scalars(
            select(Investigation).where(Investigation.case_id == case_id).order_by(Investigation.id)
        )
        return [
            InvestigationRow(
                r.id,
                r.code,
                r.status,
                r.requested_on,
                r.booked_for,
                r.done_on,
                r.reported_on,
                r.result_text,
                r.version,
            )
            for r in rows
        ]
