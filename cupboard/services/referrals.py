"""Referrals beside the treatment decision (issue 21): palliative care, psycho-oncology,
clinical genetics, dietitian, rehabilitation, a second opinion or another service.

Not the inbound referral that registers a case (``services/cases.register_referral``):
these are the board's outward referrals, part of the MDT outcome. The oncologist or
chair requests them, usually with the decision; the navigator follows each one up
(requested -> accepted / seen -> closed, or declined by the patient). Every change is
validated, version-checked against what the user saw and audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cupboard import validation as v
from cupboard.errors import NotFoundError, ValidationError
from cupboard.knowledge.referrals import (
    REFERRAL_KIND_CODES,
    REFERRAL_KIND_LABELS,
    REFERRAL_KINDS_BY_CODE,
    REFERRAL_STATUS_CODES,
    REFERRAL_STATUS_LABELS,
    REFERRAL_TRANSITIONS,
)
from cupboard.models import CareReferral, Case, Decision, MdtMeeting, User
from cupboard.services.audit import apply_update, record_creation
from cupboard.services.context import ServiceContext

MAX_DETAIL = 200


@dataclass(frozen=True)
class ReferralDraft:
    """One referral as the requesting doctor gives it."""

    kind: str  # knowledge/referrals.py REFERRAL_KIND_CODES
    reason: str
    detail: str | None = None  # the centre (second opinion) or the service (other)
    prompted: bool = False  # the guidance offered this kind


@dataclass(frozen=True)
class ReferralView:
    id: int
    case_id: int
    kind: str
    kind_label: str
    detail: str | None
    reason: str
    prompted: bool
    requested_by: str | None
    requested_on: dt.date
    status: str
    status_label: str
    accepted_on: dt.date | None
    seen_on: dt.date | None
    closed_on: dt.date | None
    decision_id: int | None
    meeting_id: int | None
    version: int  # carry to move_referral

    @property
    def label(self) -> str:
        """As in a list or a letter: "Second opinion (Karolinska CUP clinic)"."""
        return f"{self.kind_label} ({self.detail})" if self.detail else self.kind_label

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return REFERRAL_TRANSITIONS[self.status]

    @property
    def status_on(self) -> dt.date:
        """The date of the current status."""
        dates = {"accepted": self.accepted_on, "seen": self.seen_on}
        return dates.get(self.status) or self.closed_on or self.requested_on


# ---------------------------------------------------------------------------------
# Validation at the boundary


def _draft(draft: ReferralDraft, index: int) -> dict[str, object]:
    prefix = f"referrals[{index}]."
    kind = v.choice(prefix + "kind", draft.kind, REFERRAL_KIND_CODES)
    detail_label = REFERRAL_KINDS_BY_CODE[kind].detail_label
    detail = v.optional_text(prefix + "detail", draft.detail, MAX_DETAIL)
    if detail_label is not None and detail is None:
        # A second opinion names its centre; "other" names the service.
        raise ValidationError(
            prefix + "detail", f"{detail_label.lower()} is required for {kind.replace('_', ' ')}"
        )
    return {
        "kind": kind,
        "detail": detail,
        "reason": v.text(prefix + "reason", draft.reason, v.MAX_LONG_TEXT),
        "prompted": bool(draft.prompted),
    }


def _views(session: Session, rows: Sequence[CareReferral]) -> list[ReferralView]:
    user_ids = {r.requested_by_id for r in rows if r.requested_by_id is not None}
    names = (
        dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    return [
        ReferralView(
            id=r.id,
            case_id=r.case_id,
            kind=r.kind,
            kind_label=REFERRAL_KIND_LABELS[r.kind],
            detail=r.detail,
            reason=r.reason,
            prompted=r.prompted,
            requested_by=names.get(r.requested_by_id) if r.requested_by_id else None,
            requested_on=r.requested_on,
            status=r.status,
            status_label=REFERRAL_STATUS_LABELS[r.status],
            accepted_on=r.accepted_on,
            seen_on=r.seen_on,
            closed_on=r.closed_on,
            decision_id=r.decision_id,
            meeting_id=r.meeting_id,
            version=r.version,
        )
        for r in rows
    ]


# ---------------------------------------------------------------------------------
# Use cases


def request_referrals(
    ctx: ServiceContext,
    case_id: int,
    drafts: Sequence[ReferralDraft],
    *,
    decision_id: int | None = None,
    requested_on: dt.date | None = None,
) -> list[int]:
    """Request referrals for a case, beside a decision when one is named (its meeting is
    taken from it). All or nothing: one refused draft saves none. Returns the ids."""
    case_id = v.record_id("case_id", case_id)
    decision_id = v.optional_record_id("decision_id", decision_id)
    on = v.date("requested_on", requested_on or dt.date.today(), not_after=dt.date.today())
    values = [_draft(d, i) for i, d in enumerate(drafts)]
    kinds = [(x["kind"], x["detail"]) for x in values]
    if len(kinds) != len(set(kinds)):
        raise ValidationError("referrals", "the same referral is listed twice")
    with ctx.writing("request_care_referral") as session:
        if session.get(Case, case_id) is None:
            raise NotFoundError("case", case_id)
        meeting_id = None
        if decision_id is not None:
            decision = session.get(Decision, decision_id)
            if decision is None or decision.case_id != case_id:
                raise NotFoundError("decision", decision_id)
            meeting_id = decision.meeting_id
            if meeting_id is not None and session.get(MdtMeeting, meeting_id) is None:
                meeting_id = None
        ids = []
        for value in values:
            row = CareReferral(
                case_id=case_id,
                decision_id=decision_id,
                meeting_id=meeting_id,
                requested_by_id=ctx.actor.user_id,
                requested_on=on,
                status="requested",
                **value,
            )
            session.add(row)
            record_creation(session, ctx.actor, row, reason="referral requested")
            ids.append(row.id)
        return ids


def move_referral(
    ctx: ServiceContext,
    referral_id: int,
    status: str,
    seen_version: int,
    *,
    on: dt.date | None = None,
    reason: str | None = None,
) -> int:
    """Move a referral on (the navigator's follow-up) if it is still the version the
    user saw; returns the new version. Only the pathway's next steps are allowed, and
    the date of the step is kept (not before the request, not in the future)."""
    referral_id = v.record_id("referral_id", referral_id)
    status = v.choice("status", status, REFERRAL_STATUS_CODES)
    when = v.date("on", on or dt.date.today(), not_after=dt.date.today())
    reason = v.optional_text("reason", reason, v.MAX_LONG_TEXT)
    with ctx.writing("update_care_referral") as session:
        row = session.get(CareReferral, referral_id)
        if row is None:
            raise NotFoundError("referral", referral_id)
        changes: dict[str, object] = {"status": status}
        if row.version == seen_version and status not in REFERRAL_TRANSITIONS[row.status]:
            allowed = REFERRAL_TRANSITIONS[row.status]
            then = ", ".join(REFERRAL_STATUS_LABELS[s].lower() for s in allowed) or "nothing"
            raise ValidationError(
                "status",
                f"a referral {REFERRAL_STATUS_LABELS[row.status].lower()} can move to "
                f"{then}, not {REFERRAL_STATUS_LABELS[status].lower()}",
            )
        if when < row.requested_on:
            raise ValidationError("on", f"must not be before the request ({row.requested_on})")
        date_field = {
            "accepted": "accepted_on",
            "seen": "seen_on",
            "closed": "closed_on",
            "declined_by_patient": "closed_on",
        }.get(status)
        if date_field is not None:
            changes[date_field] = when
        # A stale version is refused here, naming what the user missed.
        apply_update(session, ctx.actor, row, changes, seen_version, reason)
        return row.version


def case_referrals(ctx: ServiceContext, case_id: int) -> list[ReferralView]:
    """A case's referrals, oldest request first."""
    case_id = v.record_id("case_id", case_id)
    with ctx.reading("view_cases") as session:
        rows = session.scalars(
            select(CareReferral)
            .where(CareReferral.case_id == case_id)
            .order_by(CareReferral.requested_on, CareReferral.id)
        ).all()
        return _views(session, rows)


def referrals_of_cases(session: Session, case_ids: Sequence[int]) -> dict[int, list[ReferralView]]:
    """Referrals per case for readers that already hold a session (the before-clinic
    summary, the worklist, the letter), in one query."""
    out: dict[int, list[ReferralView]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return out
    rows = session.scalars(
        select(CareReferral)
        .where(CareReferral.case_id.in_(list(case_ids)))
        .order_by(CareReferral.requested_on, CareReferral.id)
    ).all()
    for view in _views(session, rows):
        out[view.case_id].append(view)
    return out
