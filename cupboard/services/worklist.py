"""The navigator worklist: read the candidate rows, apply the rules, change in bulk.

The read runs one SQL query per kind of item (a *stream*), filtered on indexed columns
(investigations by status, with ``reviewed_on`` for unreviewed results; treatment
decisions by code, start and date; cases by status, navigator and pathway start) with
the cut-off dates of ``cupboard.worklist.cutoffs``. Each stream is ordered
the way the rules order that kind (due date, then pathway start, then case), so the
database counts every row of the kind and returns only the most urgent ``limit``; the
pure rules in ``cupboard.worklist`` then build the items of just those rows and of
their cases, and decide what is listed and in which order. So Python handles at most
``limit`` rows per kind, however large the registry; the database still visits every
row that is due, to count it. Only the pathway clock is judged by the rules for every
candidate (its target depends on the case's decisions and workup); its candidates are
the cases whose clock runs and is near its shortest target, which grow with the weekly
intake, not with the registry.

A bulk change runs each row in its own transaction through the ordinary write
service, so every row is permission-checked, validated, version-checked and audited;
a conflict or refusal on one row is reported for that row and the others still apply.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select, true
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from cupboard import worklist as rules
from cupboard.db import unit_of_work
from cupboard.errors import CupboardError, ValidationError
from cupboard.guidance import referral_prompts
from cupboard.knowledge.decisions import DECISION_KINDS
from cupboard.knowledge.investigations import INVESTIGATIONS_BY_CODE
from cupboard.knowledge.pathway import LeadTime
from cupboard.knowledge.referrals import PROMPTED_REFERRAL_KINDS
from cupboard.models import (
    AgendaItem,
    CareReferral,
    Case,
    Decision,
    Investigation,
    MdtMeeting,
    Patient,
    User,
)
from cupboard.services import workup
from cupboard.services.case_record import load_profiles
from cupboard.services.context import ServiceContext
from cupboard.services.settings import get_lead_time_targets

# Decisions whose treatment start is chased (not best supportive care, see rules).
_TREATMENT_DECISION_CODES = tuple(
    d.code
    for d in DECISION_KINDS
    if d.treatment_class is not None and d.treatment_class != rules.BEST_SUPPORTIVE_CARE
)

# Rows the page shows at first; "show more" asks for the next ones.
PAGE_SIZE = 200
# Case ids per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
_ID_CHUNK = 1000


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


# Streams: the SQL side of each kind -----------------------------------------------


@dataclass(frozen=True)
class _Stream:
    """The rows that can yield one kind of item, in the rules' order for that kind.

    ``query`` selects at least ``case_id`` and ``row_id``; ``due`` orders the rows as
    the item's due date does (so most days overdue first); ``overdue`` says whether
    the item will be overdue. Within one kind, the rules order by the due date, then
    the longest pathway (earliest ``pathway_start``), then the case: so does the SQL.
    ``counted`` is False when only the rules can tell which rows yield an item.
    """

    kind: str
    query: Select[Any]
    due: ColumnElement[Any]
    row_id: ColumnElement[int]
    overdue: ColumnElement[bool]
    counted: bool = True


_INVESTIGATION_COLUMNS = (
    Investigation.id.label("row_id"),
    Investigation.case_id.label("case_id"),
    Investigation.version,
    Investigation.code,
    Investigation.status,
    Investigation.requested_on,
    Investigation.booked_for,
    Investigation.done_on,
    Investigation.reported_on,
    Investigation.reviewed_on,
)


def _streams(scope: Sequence[Any], today: dt.date, cut: rules.Cutoffs) -> list[_Stream]:
    """One stream per kind; each filter is that rule's own comparison with its cut-off."""

    def investigations(*where: Any, due: ColumnElement[Any]) -> Select[Any]:
        return (
            select(*_INVESTIGATION_COLUMNS, due.label("due"))
            .join(Case, Case.id == Investigation.case_id)
            .where(*scope, *where)
        )

    def decisions(*where: Any, due: ColumnElement[Any]) -> Select[Any]:
        return (
            select(Decision.id.label("row_id"), Decision.case_id.label("case_id"), due.label("due"))
            .join(Case, Case.id == Decision.case_id)
            .where(*scope, Decision.superseded.is_(False), *where)
        )

    def cases(*where: Any) -> Select[Any]:
        return select(
            Case.id.label("row_id"), Case.id.label("case_id"), Case.pathway_start.label("due")
        ).where(*scope, *where)

    reported_due = func.coalesce(Investigation.reported_on, today)

    # The kinds the guidance can suggest (palliative care, genetics): a case that has a
    # referral of each cannot have a suggestion left unmade.
    def has_referral(kind: str) -> Any:
        return exists().where(CareReferral.case_id == Case.id, CareReferral.kind == kind)

    return [
        _Stream(
            "request_not_booked",
            investigations(
                Investigation.status == "requested",
                Investigation.requested_on < cut.requested_before,
                due=Investigation.requested_on,
            ),
            due=Investigation.requested_on,
            row_id=Investigation.id,
            overdue=true(),  # due = requested_on + the days allowed, before today
        ),
        _Stream(
            "booking_overdue",
            investigations(
                Investigation.status == "booked",
                Investigation.booked_for < cut.booked_before,
                due=Investigation.booked_for,
            ),
            due=Investigation.booked_for,
            row_id=Investigation.id,
            overdue=true(),  # due = the appointment, before today
        ),
        _Stream(
            "result_not_reviewed",
            investigations(
                Investigation.status == "reported",
                Investigation.reviewed_on.is_(None),
                due=reported_due,
            ),
            due=reported_due,
            row_id=Investigation.id,
            overdue=reported_due < today,
        ),
        _Stream(
            "pathway_clock",
            cases(
                Case.status.not_in(rules.CLOCK_STOPPED_STATUSES),
                Case.pathway_start <= cut.pathway_started_on_or_before,
                _clock_running(),
            ),
            due=Case.pathway_start,
            row_id=Case.id,
            overdue=false(),
            counted=False,  # the target depends on decisions and workup: the rules judge
        ),
        _Stream(
            "not_on_agenda",
            cases(Case.status == rules.READY_FOR_MDT_STATUS, ~_on_upcoming_agenda(today)),
            due=Case.pathway_start,  # due today for all: the pathway orders them
            row_id=Case.id,
            overdue=false(),
        ),
        _Stream(
            "follow_up_overdue",
            decisions(
                Decision.follow_up_due < cut.follow_up_before,
                Decision.follow_up_done_on.is_(None),
                due=Decision.follow_up_due,
            ),
            due=Decision.follow_up_due,
            row_id=Decision.id,
            overdue=true(),  # due = the follow-up date, before today
        ),
        _Stream(
            "treatment_not_started",
            decisions(
                Decision.code.in_(_TREATMENT_DECISION_CODES),
                Decision.treatment_started_on.is_(None),
                Decision.decided_on < cut.decided_before,
                due=Decision.decided_on,
            ),
            due=Decision.decided_on,
            row_id=Decision.id,
            overdue=true(),  # due = decision + the days allowed, before today
        ),
        _Stream(
            "referral_not_accepted",
            select(
                CareReferral.id.label("row_id"),
                CareReferral.case_id.label("case_id"),
                CareReferral.requested_on.label("due"),
            )
            .join(Case, Case.id == CareReferral.case_id)
            .where(
                *scope,
                CareReferral.status == "requested",
                CareReferral.requested_on < cut.referral_requested_before,
            ),
            due=CareReferral.requested_on,
            row_id=CareReferral.id,
            overdue=true(),  # due = request + the days allowed, before today
        ),
        _Stream(
            "referral_not_made",
            cases(
                exists().where(
                    Decision.case_id == Case.id,
                    Decision.superseded.is_(False),
                    Decision.decided_on >= cut.prompts_decided_on_or_after,
                ),
                ~and_(*(has_referral(kind) for kind in PROMPTED_REFERRAL_KINDS)),
            ),
            due=Case.pathway_start,
            row_id=Case.id,
            overdue=false(),
            counted=False,  # only the guidance on the case's picture can tell
        ),
    ]


@dataclass
class _Fetched:
    rows: list[Row[Any]]
    items: int = 0
    overdue: int = 0


def _fetch(session: Session, stream: _Stream, limit: int | None) -> _Fetched:
    """The stream's most urgent ``limit`` rows and, from the database, how many rows
    it has in all and how many of them are overdue."""
    query = stream.query
    if stream.counted:
        query = query.add_columns(
            func.count().over().label("n_items"),
            func.sum(case((stream.overdue, 1), else_=0)).over().label("n_overdue"),
        )
    query = query.order_by(stream.due, Case.pathway_start, Case.id, stream.row_id)
    if limit is not None and stream.counted:
        query = query.limit(limit)
    rows = list(session.execute(query))
    if not rows:
        return _Fetched([])
    if not stream.counted:
        return _Fetched(rows)
    fetched = _Fetched(rows, int(rows[0].n_items), int(rows[0].n_overdue or 0))
    if limit is not None and len(rows) == limit:
        # Within one case and due date the rules order by the item's key (a string),
        # not by row id: take every row tied with the last one, so none is cut off.
        last = rows[-1]
        seen = {r.row_id for r in rows}
        ties = session.execute(stream.query.where(Case.id == last.case_id, stream.due == last.due))
        fetched.rows += [r for r in ties if r.row_id not in seen]
    return fetched


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _ID_CHUNK):
        yield ordered[start : start + _ID_CHUNK]


def _case_rows(session: Session, case_ids: Collection[int], today: dt.date) -> list[rules.CaseRow]:
    # The two flags are read by case id, not as EXISTS subqueries of the case query,
    # which PostgreSQL answers by hashing every used investigation of the registry.
    extended: set[int] = set()
    scheduled: set[int] = set()
    rows: list[Row[Any]] = []
    for chunk in _chunks(case_ids):
        rows += session.execute(
            select(
                Case.id,
                Patient.pseudonym,
                Case.status,
                Case.pathway_start,
                Case.navigator_id,
                User.display_name,
            )
            .join(Patient, Patient.id == Case.patient_id)
            .outerjoin(User, User.id == Case.navigator_id)
            .where(Case.id.in_(chunk))
        ).all()
        extended.update(
            case_id
            for case_id, status in session.execute(
                # The status is checked here, not in SQL: given a status list, the
                # databases pick the status index and read every used investigation.
                select(Investigation.case_id, Investigation.status).where(
                    Investigation.case_id.in_(chunk),
                    Investigation.code.in_(rules.EXTENDED_WORKUP_CODES),
                )
            )
            if status in rules.USED_INVESTIGATION_STATUSES
        )
        scheduled.update(
            session.scalars(
                select(AgendaItem.case_id)
                .join(MdtMeeting, MdtMeeting.id == AgendaItem.meeting_id)
                .where(AgendaItem.case_id.in_(chunk), MdtMeeting.meeting_date >= today)
            )
        )
    return [
        rules.CaseRow(
            case_id=row.id,
            pseudonym=row.pseudonym,
            status=row.status,
            pathway_start=row.pathway_start,
            navigator_id=row.navigator_id,
            navigator_name=row.display_name,
            extended_workup=row.id in extended,
            on_upcoming_agenda=row.id in scheduled,
        )
        for row in rows
    ]


def _current_decisions(session: Session, case_ids: Collection[int]) -> list[rules.DecisionRow]:
    """Every current decision of these cases: the lead time depends on all of them."""
    query = select(
        Decision.id,
        Decision.version,
        Decision.case_id,
        Decision.code,
        Decision.decided_on,
        Decision.treatment_started_on,
        Decision.follow_up_due,
        Decision.follow_up_done_on,
        Decision.superseded,
    ).where(Decision.superseded.is_(False))
    return [
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
        for chunk in _chunks(case_ids)
        for d in session.execute(query.where(Decision.case_id.in_(chunk)))
    ]


def _referrals(session: Session, case_ids: Collection[int]) -> list[rules.ReferralRow]:
    """Every referral of these cases: a referral made silences the guidance's prompt."""
    query = select(
        CareReferral.id,
        CareReferral.version,
        CareReferral.case_id,
        CareReferral.kind,
        CareReferral.status,
        CareReferral.requested_on,
        CareReferral.detail,
    )
    return [
        rules.ReferralRow(*row)
        for chunk in _chunks(case_ids)
        for row in session.execute(query.where(CareReferral.case_id.in_(chunk)))
    ]


def _prompted(
    session: Session, case_ids: Collection[int], today: dt.date
) -> list[rules.PromptedReferral]:
    """The guidance's suggested referrals for these cases, read from their pictures."""
    if not case_ids:
        return []
    batch = load_profiles(session, sorted(case_ids), today)
    return [
        rules.PromptedReferral(case_id, prompt.code, prompt.reason)
        for case_id, profile in batch.profiles.items()
        for prompt in referral_prompts(profile)
    ]


def _investigation_row(r: Row[Any]) -> rules.InvestigationRow:
    return rules.InvestigationRow(
        investigation_id=r.row_id,
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


@dataclass(frozen=True)
class WorklistPage:
    """The most urgent items of the chosen kinds, and how many there are in all.

    ``by_kind`` and ``overdue_by_kind`` count every item of every kind (chosen or not),
    so the page can say what a filter hides; ``items`` holds the first ``limit`` items
    of the chosen ``kinds``, most urgent first (all of them when ``limit`` is None).
    """

    items: tuple[rules.WorklistItem, ...]
    kinds: tuple[str, ...]
    by_kind: dict[str, int] = field(default_factory=dict)
    overdue_by_kind: dict[str, int] = field(default_factory=dict)
    limit: int | None = None
    policy: rules.WorklistPolicy = field(default_factory=rules.WorklistPolicy)

    @property
    def total(self) -> int:
        """Items of the chosen kinds, shown or not."""
        return sum(self.by_kind.get(kind, 0) for kind in self.kinds)

    @property
    def overdue(self) -> int:
        return sum(self.overdue_by_kind.get(kind, 0) for kind in self.kinds)

    @property
    def counts(self) -> rules.WorklistCounts:
        """The chosen kinds' counts, as :func:`cupboard.worklist.count_items` gives them."""
        return rules.WorklistCounts(
            {k: (self.by_kind.get(k, 0) if k in self.kinds else 0) for k in self.by_kind},
            self.overdue,
        )

    @property
    def has_more(self) -> bool:
        return len(self.items) < self.total


ALL_KINDS: tuple[str, ...] = tuple(k.code for k in rules.WORKLIST_KINDS)


def worklist_page(
    ctx: ServiceContext,
    *,
    mine: bool = False,
    kinds: Collection[str] = ALL_KINDS,
    limit: int | None = PAGE_SIZE,
    today: dt.date | None = None,
    policy: rules.WorklistPolicy | None = None,
) -> WorklistPage:
    """The first ``limit`` items needing a navigator's action, most urgent first, and
    the count of every kind (see the module docstring for how).

    ``mine``: only cases whose navigator is the signed-in user. ``kinds``: which kinds
    of item to list (codes of ``cupboard.worklist.WORKLIST_KINDS``)."""
    unknown = set(kinds) - set(ALL_KINDS)
    if unknown:
        raise ValidationError("kinds", f"unknown kind(s): {', '.join(sorted(unknown))}")
    if limit is not None and limit < 1:
        raise ValidationError("limit", f"({limit}) must be at least 1")
    chosen = tuple(k for k in ALL_KINDS if k in kinds)
    today = today or dt.date.today()
    policy = policy or policy_for(ctx.database_url)
    navigator_id = ctx.actor.user_id if mine else None
    if mine and navigator_id is None:
        return WorklistPage(
            (), chosen, dict.fromkeys(ALL_KINDS, 0), dict.fromkeys(ALL_KINDS, 0), limit, policy
        )
    cut = rules.cutoffs(today, policy)
    streams = _streams(_case_scope(navigator_id), today, cut)
    with ctx.reading("view_cases") as session:
        fetched = {s.kind: _fetch(session, s, limit) for s in streams}
        case_ids = {r.case_id for f in fetched.values() for r in f.rows}
        cases = _case_rows(session, case_ids, today)
        decisions = _current_decisions(session, case_ids)
        # Referral rows for the cases that yield a referral item; all of a case's, so
        # that a referral made silences the prompt of its kind.
        referral_cases = {
            r.case_id
            for kind in ("referral_not_accepted", "referral_not_made")
            for r in fetched[kind].rows
        }
        referrals = _referrals(session, referral_cases)
        prompted = _prompted(session, {r.case_id for r in fetched["referral_not_made"].rows}, today)
    investigations = [
        _investigation_row(r) for kind in rules.INVESTIGATION_KINDS for r in fetched[kind].rows
    ]
    # Every item built here is a real item (each case comes with all its current
    # decisions and referrals), and each kind's most urgent ``limit`` are among them: so
    # the first ``limit`` of their merge are the first ``limit`` of the whole list.
    items = rules.build_worklist(
        cases, investigations, decisions, today, policy, referrals=referrals, prompted=prompted
    )
    by_kind = {kind: f.items for kind, f in fetched.items()}
    overdue_by_kind = {kind: f.overdue for kind, f in fetched.items()}
    for judged in ("pathway_clock", "referral_not_made"):
        listed = [i for i in items if i.kind == judged]
        by_kind[judged] = len(listed)
        overdue_by_kind[judged] = sum(i.days_overdue > 0 for i in listed)
    listed = [i for i in items if i.kind in chosen]
    return WorklistPage(
        tuple(listed if limit is None else listed[:limit]),
        chosen,
        by_kind,
        overdue_by_kind,
        limit,
        policy,
    )


def worklist(
    ctx: ServiceContext,
    *,
    mine: bool = False,
    today: dt.date | None = None,
    policy: rules.WorklistPolicy | None = None,
) -> list[rules.WorklistItem]:
    """Everything needing a navigator's action, most urgent first (no limit).

    ``mine``: only cases whose navigator is the signed-in user."""
    page = worklist_page(ctx, mine=mine, limit=None, today=today, policy=policy)
    return list(page.items)


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
