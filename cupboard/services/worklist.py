"""The navigator worklist: read the candidate rows, apply the rules, change in bulk.

The read fetches only rows that can be on the list, filtered in SQL on indexed
columns (``investigations.status``, ``cases.status``, ``cases.navigator_id``,
``cases.pathway_start``, ``decisions.case_id``) with the cut-off dates of
``cupboard.worklist.cutoffs``; the pure rules in ``cupboard.worklist`` then decide
exactly what is listed and in which order. Nothing loads the whole cohort.

A bulk change runs each row in its own transaction through the ordinary write
service, so every row is permission-checked, validated, version-checked and audited;
a conflict or refusal on one row is reported for that row and the others still apply.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select, union
from sqlalchemy.sql import Select

from cupboard import worklist as rules
from cupboard.db import unit_of_work
from cupboard.errors import CupboardError, ValidationError
from cupboard.knowledge.decisions import DECISION_KINDS
from cupboard.knowledge.investigations import INVESTIGATIONS_BY_CODE
from cupboard.knowledge.pathway import LeadTime
from cupboard.models import AgendaItem, Case, Decision, Investigation, MdtMeeting, Patient, User
from cupboard.services import workup
from cupboard.services.context import ServiceContext
from cupboard.services.settings import get_lead_time_targets

# Decisions whose treatment start is chased (not best supportive care, see rules).
_TREATMENT_DECISION_CODES = tuple(
    d.code
    for d in DECISION_KINDS
    if d.treatment_class is not None and d.treatment_class != rules.BEST_SUPPORTIVE_CARE
)


def lead_time_targets(database_url: str) -> tuple[LeadTime, ...]:
    """The SVF lead-time targets in force: the centre's configured ones, else the
    SVF defaults (``cupboard.services.settings``)."""
    return get_lead_time_targets(database_url).lead_times


def policy_for(database_url: str) -> rules.WorklistPolicy:
    return rules.WorklistPolicy(lead_times=lead_time_targets(database_url))


def _case_scope(navigator_id: int | None) -> list[Any]:
    conditions: list[Any] = [Case.status != rules.CLOSED_STATUS]
    if navigator_id is not None:
        conditions.append(Case.navigator_id == navigator_id)
    return conditions


def _investigation_candidates(cut: rules.Cutoffs) -> Any:
    return or_(
        and_(
            Investigation.status == "requested", Investigation.requested_on < cut.requested_before
        ),
        and_(Investigation.status == "booked", Investigation.booked_for < cut.booked_before),
        and_(Investigation.status == "reported", Investigation.reviewed_on.is_(None)),
    )


def _decision_candidates(cut: rules.Cutoffs) -> Any:
    return and_(
        Decision.superseded.is_(False),
        or_(
            and_(
                Decision.follow_up_due < cut.follow_up_before,
                Decision.follow_up_done_on.is_(None),
            ),
            and_(
                Decision.code.in_(_TREATMENT_DECISION_CODES),
                Decision.treatment_started_on.is_(None),
                Decision.decided_on < cut.decided_before,
            ),
        ),
    )


def _clock_running() -> Any:
    """No current decision has started treatment or chosen best supportive care."""
    return ~exists().where(
        Decision.case_id == Case.id,
        Decision.superseded.is_(False),
        or_(
            Decision.treatment_started_on.is_not(None),
            Decision.code == rules.BEST_SUPPORTIVE_CARE,
        ),
    )


def _on_upcoming_agenda(today: dt.date) -> Any:
    return exists().where(
        AgendaItem.case_id == Case.id,
        AgendaItem.meeting_id == MdtMeeting.id,
        MdtMeeting.meeting_date >= today,
    )


def _candidate_case_ids(navigator_id: int | None, today: dt.date, cut: rules.Cutoffs) -> Select:
    scope = _case_scope(navigator_id)
    with_investigation = (
        select(Case.id)
        .join(Investigation, Investigation.case_id == Case.id)
        .where(*scope, _investigation_candidates(cut))
    )
    with_decision = (
        select(Case.id)
        .join(Decision, Decision.case_id == Case.id)
        .where(*scope, _decision_candidates(cut))
    )
    clock = select(Case.id).where(
        *scope,
        Case.status.not_in(rules.CLOCK_STOPPED_STATUSES),
        Case.pathway_start <= cut.pathway_started_on_or_before,
        _clock_running(),
    )
    not_scheduled = select(Case.id).where(
        *scope, Case.status == rules.READY_FOR_MDT_STATUS, ~_on_upcoming_agenda(today)
    )
    ids = union(with_investigation, with_decision, clock, not_scheduled).subquery()
    return select(ids.c.id)


def worklist(
    ctx: ServiceContext,
    *,
    mine: bool = False,
    today: dt.date | None = None,
    policy: rules.WorklistPolicy | None = None,
) -> list[rules.WorklistItem]:
    """Everything needing a navigator's action, most urgent first.

    ``mine``: only cases whose navigator is the signed-in user."""
    ctx.require("view_cases")
    today = today or dt.date.today()
    policy = policy or policy_for(ctx.database_url)
    cut = rules.cutoffs(today, policy)
    navigator_id = ctx.actor.user_id if mine else None
    if mine and navigator_id is None:
        return []
    candidate_ids = _candidate_case_ids(navigator_id, today, cut)
    extended = exists().where(
        Investigation.case_id == Case.id,
        Investigation.code.in_(rules.EXTENDED_WORKUP_CODES),
        Investigation.status.in_(rules.USED_INVESTIGATION_STATUSES),
    )
    with unit_of_work(ctx.database_url) as session:
        cases = [
            rules.CaseRow(
                case_id=row.id,
                pseudonym=row.pseudonym,
                status=row.status,
                pathway_start=row.pathway_start,
                navigator_id=row.navigator_id,
                navigator_name=row.display_name,
                extended_workup=bool(row.extended),
                on_upcoming_agenda=bool(row.scheduled),
            )
            for row in session.execute(
                select(
                    Case.id,
                    Patient.pseudonym,
                    Case.status,
                    Case.pathway_start,
                    Case.navigator_id,
                    User.display_name,
                    extended.label("extended"),
                    _on_upcoming_agenda(today).label("scheduled"),
                )
                .join(Patient, Patient.id == Case.patient_id)
                .outerjoin(User, User.id == Case.navigator_id)
                .where(Case.id.in_(candidate_ids))
            )
        ]
        investigations = [
            rules.InvestigationRow(
                investigation_id=r.id,
                version=r.version,
                case_id=r.case_id,
                code=r.code,
                status=r.status,
                requested_on=r.requested_on,
                booked_for=r.booked_for,
                done_on=r.done_on,
                reported_on=r.reported_on,
                reviewed_on=r.reviewed_on,
            )
            for r in session.scalars(
                select(Investigation)
                .join(Case, Case.id == Investigation.case_id)
                .where(*_case_scope(navigator_id), _investigation_candidates(cut))
            )
        ]
        decisions = [
            rules.DecisionRow(
                decision_id=d.id,
                version=d.version,
                case_id=d.case_id,
                code=d.code,
                decided_on=d.decided_on,
                treatment_started_on=d.treatment_started_on,
                follow_up_due=d.follow_up_due,
                follow_up_done_on=d.follow_up_done_on,
                superseded=d.superseded,
            )
            for d in session.scalars(
                select(Decision).where(
                    Decision.case_id.in_(candidate_ids), Decision.superseded.is_(False)
                )
            )
        ]
    return rules.build_worklist(cases, investigations, decisions, today, policy)


# Bulk changes ---------------------------------------------------------------------


@dataclass(frozen=True)
class RowFailure:
    investigation_id: int
    row: str  # how the user knows the row: "CUP-00012 · CT chest/abdomen/pelvis"
    message: str  # names the row, then says why


@dataclass(frozen=True)
class BulkResult:
    updated: tuple[int, ...]
    unchanged: tuple[int, ...]  # already had the requested values; nothing written
    failures: tuple[RowFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def _row_names(database_url: str, ids: Sequence[int]) -> dict[int, str]:
    with unit_of_work(database_url) as session:
        rows = session.execute(
            select(Investigation.id, Investigation.code, Patient.pseudonym)
            .join(Case, Case.id == Investigation.case_id)
            .join(Patient, Patient.id == Case.patient_id)
            .where(Investigation.id.in_(ids))
        )
        return {
            inv_id: f"{pseudonym} · "
            + (INVESTIGATIONS_BY_CODE[code].label if code in INVESTIGATIONS_BY_CODE else code)
            for inv_id, code, pseudonym in rows
        }


def _each_row(
    ctx: ServiceContext,
    rows: Sequence[tuple[int, int]],
    write: Callable[[int, int], dict[str, tuple[Any, Any]]],
) -> BulkResult:
    if not rows:
        raise ValidationError("rows", "select at least one investigation")
    seen: dict[int, int] = {}
    for investigation_id, version in rows:
        seen.setdefault(investigation_id, version)
    names = _row_names(ctx.database_url, list(seen))
    updated: list[int] = []
    unchanged: list[int] = []
    failures: list[RowFailure] = []
    for investigation_id, version in seen.items():
        name = names.get(investigation_id, f"investigation {investigation_id}")
        try:
            changed = write(investigation_id, version)
        except CupboardError as error:
            failures.append(RowFailure(investigation_id, name, f"{name}: {error}"))
        else:
            (updated if changed else unchanged).append(investigation_id)
    return BulkResult(tuple(updated), tuple(unchanged), tuple(failures))


def bulk_update_investigations(
    ctx: ServiceContext,
    rows: Sequence[tuple[int, int]],
    changes: dict[str, Any],
    today: dt.date | None = None,
) -> BulkResult:
    """Apply the same change (e.g. a status) to several investigations.

    ``rows`` are (investigation id, version the user saw). The whole request is
    refused up front when the role may not update investigations or the change
    itself is invalid; after that each row is its own audited, version-checked
    transaction, and a row that fails is reported by name while the others apply."""
    ctx.require("update_investigation")
    today = today or dt.date.today()
    if not changes:
        raise ValidationError("changes", "choose what to change")
    workup.validate_investigation_changes(changes, today)
    return _each_row(
        ctx,
        rows,
        lambda inv_id, version: workup.update_investigation(ctx, inv_id, version, changes, today),
    )


def bulk_mark_reviewed(
    ctx: ServiceContext, rows: Sequence[tuple[int, int]], today: dt.date | None = None
) -> BulkResult:
    """Mark several reported results as reviewed by the signed-in user."""
    ctx.require("update_investigation")
    today = today or dt.date.today()
    return _each_row(
        ctx, rows, lambda inv_id, version: workup.mark_reviewed(ctx, inv_id, version, today)
    )
