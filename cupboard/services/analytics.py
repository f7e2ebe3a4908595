"""Service analytics: the frames behind the analytics page, for a period and filters.

Only the columns the metrics need are read, and per-case aggregates (first MDT, first
block D/E investigation) are computed by the database. The metrics themselves are the
pure functions of :mod:`cupboard.analytics`, whose docstring describes each frame.

Which rows a period selects:
- the *cohort* is the cases whose pathway started in the period (lead times, workup
  at the first MDT, favourable subtypes, primaries found);
- the decision mix counts decisions made in the period;
- meeting load counts agenda items of meetings held in the period (up to today).
Navigator and oncologist filters select cases by who is assigned to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from cupboard import analytics as metrics
from cupboard.analytics import (
    AGENDA_COLUMNS,
    CASE_COLUMNS,
    DECISION_COLUMNS,
    EXTENDED_WORKUP_CODES,
    NOT_EXPECTED_STATUSES,
    REFERRAL_COLUMNS,
    WORKUP_COLUMNS,
    Endpoint,
)
from cupboard.errors import ValidationError
from cupboard.guidance import CaseProfile
from cupboard.knowledge.pathway import LeadTime
from cupboard.models import (
    AgendaItem,
    CareReferral,
    Case,
    Decision,
    Investigation,
    MdtMeeting,
    User,
)
from cupboard.services import case_record
from cupboard.services.audit import record_event
from cupboard.services.context import ServiceContext


@dataclass(frozen=True)
class AnalyticsFilter:
    """A reporting period (both days inclusive) and, optionally, whose cases."""

    start: dt.date
    end: dt.date
    navigator_id: int | None = None
    oncologist_id: int | None = None


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class FilterChoices:
    """What the filters can offer: the people assigned to cases, the dates covered."""

    cases: int
    navigators: list[Person]
    oncologists: list[Person]
    first_pathway_start: dt.date | None


@dataclass(frozen=True)
class AnalyticsData:
    """The frames of one period; ``cases`` is the cohort (see the module docstring)."""

    cases: pd.DataFrame
    decisions: pd.DataFrame  # the cohort's current decisions
    workup: pd.DataFrame  # the cohort's expected investigations, for cases with an MDT
    period_decisions: pd.DataFrame  # decisions made in the period: decided_on, code
    agenda: pd.DataFrame  # agenda items of meetings held in the period
    # The cohort's first palliative-care referral per case (issue 21).
    palliative_referrals: pd.DataFrame | None = None

    @property
    def is_empty(self) -> bool:
        return self.cases.empty and self.period_decisions.empty and self.agenda.empty


def _check(filters: AnalyticsFilter) -> None:
    if filters.end < filters.start:
        raise ValidationError("period", f"ends ({filters.end}) before it starts ({filters.start})")


def _assigned(filters: AnalyticsFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.navigator_id is not None:
        conditions.append(Case.navigator_id == filters.navigator_id)
    if filters.oncologist_id is not None:
        conditions.append(Case.oncologist_id == filters.oncologist_id)
    return conditions


def _cohort(filters: AnalyticsFilter) -> list[ColumnElement[bool]]:
    return [Case.pathway_start.between(filters.start, filters.end), *_assigned(filters)]


def _frame(session: Session, query: Select[Any], columns: Sequence[str]) -> pd.DataFrame:
    rows = session.execute(query).all()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def filter_choices(ctx: ServiceContext) -> FilterChoices:
    """The navigators and oncologists who have cases, and how far back cases go."""
    with ctx.reading("view_cases") as session:
        count, first = session.execute(
            select(func.count(Case.id), func.min(Case.pathway_start))
        ).one()

        def people(column: Any) -> list[Person]:
            query = (
                select(User.id, User.display_name)
                .where(User.id.in_(select(column).where(column.is_not(None)).distinct()))
                .order_by(User.display_name, User.id)
            )
            return [Person(user_id, name) for user_id, name in session.execute(query)]

        return FilterChoices(
            cases=int(count or 0),
            navigators=people(Case.navigator_id),
            oncologists=people(Case.oncologist_id),
            first_pathway_start=first,
        )


def load_analytics(
    ctx: ServiceContext, filters: AnalyticsFilter, today: dt.date | None = None
) -> AnalyticsData:
    """The frames for a period; meetings count as held when dated today or earlier."""
    _check(filters)
    today = today or dt.date.today()
    cohort = _cohort(filters)
    held = MdtMeeting.meeting_date <= today
    # The per-case aggregates are computed for the cohort only, not the registry.
    cohort_ids = select(Case.id).where(*cohort)
    with ctx.reading("view_cases") as session:
        first_mdt = (
            select(
                AgendaItem.case_id.label("case_id"),
                func.min(MdtMeeting.meeting_date).label("first_mdt_on"),
            )
            .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
            .where(held, AgendaItem.case_id.in_(cohort_ids))
            .group_by(AgendaItem.case_id)
            .subquery()
        )
        extended = (
            select(
                Investigation.case_id.label("case_id"),
                func.min(Investigation.done_on).label("first_extended_workup_on"),
            )
            .where(
                Investigation.case_id.in_(cohort_ids),
                Investigation.code.in_(EXTENDED_WORKUP_CODES),
                Investigation.done_on.is_not(None),
            )
            .group_by(Investigation.case_id)
            .subquery()
        )
        cases = _frame(
            session,
            select(
                Case.id,
                Case.pathway_start,
                first_mdt.c.first_mdt_on,
                extended.c.first_extended_workup_on,
                Case.primary_found_site,
                Case.primary_found_by,
            )
            .outerjoin(first_mdt, first_mdt.c.case_id == Case.id)
            .outerjoin(extended, extended.c.case_id == Case.id)
            .where(*cohort)
            .order_by(Case.id),
            CASE_COLUMNS,
        )
        decisions = _frame(
            session,
            select(
                Decision.case_id,
                Decision.id,
                Decision.code,
                Decision.local_modality,
                Decision.decided_on,
                Decision.treatment_started_on,
            )
            .where(Decision.superseded.is_(False), Decision.case_id.in_(cohort_ids))
            .order_by(Decision.case_id, Decision.decided_on, Decision.id),
            DECISION_COLUMNS,
        )
        workup = _frame(
            session,
            select(
                Investigation.case_id,
                Investigation.code,
                Investigation.status,
                Investigation.done_on,
                Investigation.reported_on,
            )
            .join(first_mdt, first_mdt.c.case_id == Investigation.case_id)
            .where(
                Investigation.case_id.in_(cohort_ids),
                Investigation.status.not_in(NOT_EXPECTED_STATUSES),
            )
            .order_by(Investigation.case_id, Investigation.id),
            WORKUP_COLUMNS,
        )
        period_decisions = _frame(
            session,
            select(Decision.decided_on, Decision.code)
            .join(Case, Decision.case_id == Case.id)
            .where(
                Decision.superseded.is_(False),
                Decision.decided_on.between(filters.start, filters.end),
                *_assigned(filters),
            )
            .order_by(Decision.decided_on, Decision.id),
            ("decided_on", "code"),
        )
        agenda = _frame(
            session,
            select(
                AgendaItem.meeting_id,
                MdtMeeting.meeting_date,
                AgendaItem.case_id,
                AgendaItem.discussion_started_at,
                AgendaItem.discussion_ended_at,
            )
            .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
            .join(Case, AgendaItem.case_id == Case.id)
            .where(
                MdtMeeting.meeting_date.between(filters.start, min(filters.end, today)),
                *_assigned(filters),
            )
            .order_by(MdtMeeting.meeting_date, AgendaItem.meeting_id, AgendaItem.position),
            AGENDA_COLUMNS,
        )
        palliative_referrals = _frame(
            session,
            select(CareReferral.case_id, func.min(CareReferral.requested_on))
            .where(
                CareReferral.kind == "palliative_care",
                CareReferral.case_id.in_(cohort_ids),
            )
            .group_by(CareReferral.case_id)
            .order_by(CareReferral.case_id),
            REFERRAL_COLUMNS,
        )
    return AnalyticsData(cases, decisions, workup, period_decisions, agenda, palliative_referrals)


def load_profiles(
    ctx: ServiceContext, filters: AnalyticsFilter, today: dt.date | None = None
) -> dict[int, CaseProfile]:
    """The clinical picture's profile of each cohort case, built by the one reader the
    case page, the queue and the exports use (``case_record.load_profiles``): every
    report merged, MSI/MMR and the latest ECOG included, age as on the case page.
    Built for the filtered cohort only."""
    _check(filters)
    with ctx.reading("view_cases") as session:
        cohort_ids = list(
            session.scalars(select(Case.id).where(*_cohort(filters)).order_by(Case.id))
        )
        batch = case_record.load_profiles(session, cohort_ids, today or dt.date.today())
    return {case_id: batch.profiles[case_id] for case_id in cohort_ids}


def export_lead_times(
    ctx: ServiceContext,
    filters: AnalyticsFilter,
    lead_times: Sequence[LeadTime],
    endpoint: Endpoint = "decision",
    today: dt.date | None = None,
) -> bytes:
    """The lead-time chart's data as CSV, one row per cohort case (case number, dates,
    days, target, whether it was met): an export of case data, so it needs the export
    permission and is audited, like the other exports. Made when the user clicks."""
    _check(filters)
    today = today or dt.date.today()
    # Refused (and the refusal audited) before any case is read.
    ctx.require("export_data")
    data = load_analytics(ctx, filters, today)
    lead = metrics.lead_times(data.cases, data.decisions, lead_times, today, endpoint)
    for column in lead.columns:
        if pd.api.types.is_datetime64_any_dtype(lead[column]):
            lead[column] = lead[column].dt.date  # days, as the clinic counts them
    exported = metrics.to_csv(lead)
    with ctx.writing("export_data") as session:
        record_event(
            session,
            ctx.actor,
            "export",
            "cohort",  # the period's cases, as the cohort export records itself
            None,
            reason=f"lead times CSV, {len(lead)} cases, pathway start "
            f"{filters.start.isoformat()} to {filters.end.isoformat()}, "
            f"navigator {filters.navigator_id or 'any'}, "
            f"oncologist {filters.oncologist_id or 'any'}, endpoint {endpoint}",
        )
    return exported
