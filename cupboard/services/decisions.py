"""MDT decisions [cup-clinical.md section 5]: recorded, amended, never overwritten."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cupboard import validation as v
from cupboard.errors import ConflictError, MissedChange, NotFoundError, ValidationError
from cupboard.knowledge.decisions import DECISION_KINDS_BY_CODE, LOCAL_MODALITIES
from cupboard.knowledge.sites import PRIMARY_SITES
from cupboard.models import Decision, MdtMeeting, User
from cupboard.services.audit import apply_update, record_creation, to_json
from cupboard.services.cases import get_case
from cupboard.services.context import ServiceContext
from cupboard.services.meetings import validate_attendees
from cupboard.stored_values import display_value


@dataclass(frozen=True)
class DecisionDraft:
    code: str
    rationale: str
    decided_on: dt.date | str
    meeting_id: int | None = None
    presumed_primary: str | None = None
    regimen: str | None = None
    biomarker: str | None = None
    alteration: str | None = None
    target_site: str | None = None
    local_modality: str | None = None
    workup_requested: str | None = None
    plan: str | None = None
    ecog_at_decision: int | None = None
    attendees: Sequence[dict[str, Any]] = field(default_factory=tuple)
    chair_id: int | None = None
    follow_up_due: dt.date | str | None = None


def validate_decision(draft: DecisionDraft, today: dt.date) -> dict[str, Any]:
    kind = DECISION_KINDS_BY_CODE.get(draft.code) if isinstance(draft.code, str) else None
    if kind is None:
        v.choice("code", draft.code, DECISION_KINDS_BY_CODE)
    assert kind is not None
    values: dict[str, Any] = {
        "code": draft.code,
        "rationale": v.text("rationale", draft.rationale, v.MAX_LONG_TEXT),
        "decided_on": v.date("decided_on", draft.decided_on, not_after=today),
        "meeting_id": v.optional_integer("meeting_id", draft.meeting_id, 1, 2**31),
        "presumed_primary": v.optional_choice(
            "presumed_primary", draft.presumed_primary, PRIMARY_SITES
        ),
        "regimen": v.optional_text("regimen", draft.regimen),
        "biomarker": v.optional_text("biomarker", draft.biomarker, 60),
        "alteration": v.optional_text("alteration", draft.alteration, 120),
        "target_site": v.optional_text("target_site", draft.target_site, 120),
        "local_modality": v.optional_choice(
            "local_modality", draft.local_modality, LOCAL_MODALITIES
        ),
        "workup_requested": v.optional_text(
            "workup_requested", draft.workup_requested, v.MAX_LONG_TEXT
        ),
        "plan": v.optional_text("plan", draft.plan, v.MAX_LONG_TEXT),
        "ecog_at_decision": v.optional_integer("ecog_at_decision", draft.ecog_at_decision, 0, 5),
        "attendees": validate_attendees(draft.attendees),
        "chair_id": v.optional_integer("chair_id", draft.chair_id, 1, 2**31),
        "follow_up_due": v.optional_date("follow_up_due", draft.follow_up_due),
    }
    # Each decision names what it is about [cup-clinical.md section 5].
    if kind.required_detail and not values[kind.required_detail]:
        raise ValidationError(kind.required_detail, f"is required for {kind.label.lower()}")
    return values


def record_decision(
    ctx: ServiceContext,
    case_id: int,
    draft: DecisionDraft,
    today: dt.date | None = None,
    *,
    seen_decision_id: int | None = None,
) -> int:
    """Record the board's decision; the case moves to 'decision recorded'.

    A case has one current decision per meeting (per day, outside a meeting).
    ``seen_decision_id`` is the current one the user's screen showed for that meeting
    (None: it showed none). If someone else recorded one meanwhile, nothing is saved
    and the error says what they decided; if the user saw it, they amend it instead.
    """
    today = today or dt.date.today()
    values = validate_decision(draft, today)
    with ctx.writing("record_decision") as session:
        case = get_case(session, case_id)
        meeting_id = values["meeting_id"]
        if meeting_id is not None and session.get(MdtMeeting, meeting_id) is None:
            raise NotFoundError("meeting", meeting_id)
        standing = _current_decision(session, case_id, meeting_id, values["decided_on"])
        if standing is not None:
            if standing.id == seen_decision_id:
                raise ValidationError(
                    "decision",
                    f"this case already has a current decision {_occasion(standing)}; "
                    "amend it instead of recording another",
                )
            raise _decided_by_someone_else(session, standing)
        decision = Decision(case_id=case_id, decided_by_id=ctx.actor.user_id, **values)
        session.add(decision)
        _create_or_lose_the_race(session, ctx, decision)
        if case.status not in ("decision_recorded", "in_treatment", "closed"):
            apply_update(session, ctx.actor, case, {"status": "decision_recorded"}, case.version)
        return decision.id


def amend_decision(
    ctx: ServiceContext,
    decision_id: int,
    seen_version: int,
    draft: DecisionDraft,
    reason: str,
    today: dt.date | None = None,
) -> int:
    """A correction is a new decision pointing at the old one, which is kept, marked
    superseded, and never rewritten."""
    today = today or dt.date.today()
    reason = v.text("reason", reason, v.MAX_LONG_TEXT)
    values = validate_decision(draft, today)
    with ctx.writing("record_decision") as session:
        old = session.get(Decision, decision_id)
        if old is None:
            raise NotFoundError("decision", decision_id)
        if old.superseded and old.version == seen_version:
            raise ValidationError("decision", "was already amended; amend the latest version")
        apply_update(session, ctx.actor, old, {"superseded": True}, seen_version, reason)
        # Moved to another meeting (or day) that has a current decision of its own?
        standing = _current_decision(
            session, old.case_id, values["meeting_id"], values["decided_on"]
        )
        if standing is not None:
            raise _decided_by_someone_else(session, standing)
        new = Decision(
            case_id=old.case_id,
            decided_by_id=ctx.actor.user_id,
            amends_decision_id=old.id,
            **values,
        )
        session.add(new)
        _create_or_lose_the_race(session, ctx, new, reason=reason)
        return new.id


class DecisionConflictError(ConflictError):
    """Someone else recorded the case's decision for this meeting first; nothing of
    the user's was saved. Says what the board's record now holds."""

    def __init__(self, standing: MissedChange, decision_id: int, occasion: str) -> None:
        super().__init__("decision", decision_id, (standing,))
        self.args = (
            f"Conflict: {standing.by} recorded the decision for this case {occasion} at "
            f"{standing.at}: {display_value(standing.after)}. Nothing of yours was "
            "saved. Reload to see it, and amend it if the board decided otherwise.",
        )


def _current_decision(
    session: Session, case_id: int, meeting_id: int | None, decided_on: dt.date
) -> Decision | None:
    """The case's current decision for a meeting, or for a day outside any meeting."""
    query = select(Decision).where(Decision.case_id == case_id, Decision.superseded.is_(False))
    if meeting_id is not None:
        query = query.where(Decision.meeting_id == meeting_id)
    else:
        query = query.where(Decision.meeting_id.is_(None), Decision.decided_on == decided_on)
    return session.scalars(query.order_by(Decision.id).limit(1)).first()


def _occasion(decision: Decision) -> str:
    if decision.meeting_id is not None:
        return "at this meeting"
    return f"for {decision.decided_on.isoformat()} outside a meeting"


def _in_words(decision: Decision) -> str:
    kind = DECISION_KINDS_BY_CODE[decision.code]
    detail = getattr(decision, kind.required_detail) if kind.required_detail else None
    if decision.code == "site_specific" and detail in PRIMARY_SITES:
        detail = PRIMARY_SITES[detail]
    words = f"{kind.label} ({detail})" if detail else kind.label
    return f"{words}; rationale: {decision.rationale}"


def _decided_by_someone_else(session: Session, standing: Decision) -> DecisionConflictError:
    by = session.scalar(select(User.display_name).where(User.id == standing.decided_by_id))
    return DecisionConflictError(
        MissedChange(
            field="decision",
            before=None,
            after=to_json(_in_words(standing)),
            by=by or "someone",
            at=_aware(standing.created_at).strftime("%Y-%m-%d %H:%M UTC"),
        ),
        standing.id,
        _occasion(standing),
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _create_or_lose_the_race(
    session: Session, ctx: ServiceContext, decision: Decision, reason: str | None = None
) -> None:
    """Insert the decision; if another save for the same meeting committed between our
    check and our insert, the database's unique index refuses ours (migration 0004)
    and the user is told what the other person decided."""
    try:
        record_creation(session, ctx.actor, decision, reason=reason)
    except IntegrityError:
        values = (decision.case_id, decision.meeting_id, decision.decided_on)
        with Session(session.get_bind()) as fresh:
            standing = _current_decision(fresh, *values)
            if standing is None:
                raise
            raise _decided_by_someone_else(fresh, standing) from None


def update_follow_up(
    ctx: ServiceContext,
    decision_id: int,
    seen_version: int,
    changes: dict[str, Any],
    today: dt.date | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Treatment start and follow-up dates: the only fields of a decision that change."""
    today = today or dt.date.today()
    allowed = {
        "treatment_started_on": lambda x: v.optional_date("treatment_started_on", x),
        "follow_up_due": lambda x: v.optional_date("follow_up_due", x),
        "follow_up_done_on": lambda x: v.optional_date("follow_up_done_on", x, not_after=today),
    }
    cleaned = {}
    for key, value in changes.items():
        if key not in allowed:
            raise ValidationError(key, "cannot be changed; amend the decision instead")
        cleaned[key] = allowed[key](value)
    with ctx.writing("update_decision_follow_up") as session:
        decision = session.get(Decision, decision_id)
        if decision is None:
            raise NotFoundError("decision", decision_id)
        v.not_before(
            "treatment_started_on",
            cleaned.get("treatment_started_on"),
            "decided_on",
            decision.decided_on,
        )
        return apply_update(session, ctx.actor, decision, cleaned, seen_version)
