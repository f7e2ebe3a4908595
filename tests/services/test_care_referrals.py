"""Referrals beside the decision (issue 21): requested by the deciding doctors, moved on
by the navigator, validated, version-checked and audited, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from cupboard.models import AuditEvent, CareReferral
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.referrals import (
    ReferralDraft,
    case_referrals,
    move_referral,
    request_referrals,
)

TODAY = dt.date.today()
PALLIATIVE = ReferralDraft("palliative_care", "ECOG 2: palliative care early", prompted=True)
GENETICS = ReferralDraft("clinical_genetics", "MSI-H: germline testing for Lynch")


def _audit(url: str, entity_id: int) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "care_referral", AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_referrals_beside_a_decision_are_listed_with_who_and_when(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    oncologist = contexts["oncologist"]
    decision_id = record_decision(
        oncologist,
        case_id,
        DecisionDraft(code="clinical_trial", rationale="fit", decided_on=TODAY),
    )
    ids = request_referrals(oncologist, case_id, [PALLIATIVE, GENETICS], decision_id=decision_id)
    listed = case_referrals(contexts["viewer"], case_id)
    assert [r.id for r in listed] == ids
    palliative, genetics = listed
    assert (palliative.kind, palliative.status, palliative.prompted) == (
        "palliative_care",
        "requested",
        True,
    )
    assert palliative.requested_by == "Test Oncologist"
    assert palliative.requested_on == TODAY
    assert palliative.decision_id == decision_id
    assert genetics.label == "Clinical genetics / germline testing"
    created = _audit(oncologist.database_url, ids[0])
    assert [e.action for e in created] == ["create"]
    assert created[0].case_id == case_id
    assert json.loads(created[0].after or "{}")["kind"] == "palliative_care"


def test_navigator_moves_a_referral_on_and_each_step_keeps_its_date(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    [referral_id] = request_referrals(
        contexts["chair"], case_id, [PALLIATIVE], requested_on=TODAY - dt.timedelta(days=5)
    )
    navigator = contexts["navigator"]
    version = case_referrals(navigator, case_id)[0].version
    version = move_referral(
        navigator, referral_id, "accepted", version, on=TODAY - dt.timedelta(days=3)
    )
    version = move_referral(navigator, referral_id, "seen", version)
    [seen] = case_referrals(navigator, case_id)
    assert (seen.status, seen.accepted_on, seen.seen_on) == (
        "seen",
        TODAY - dt.timedelta(days=3),
        TODAY,
    )
    assert seen.next_statuses == ("closed",)
    fields = [(e.action, e.field) for e in _audit(navigator.database_url, referral_id)]
    assert ("update", "status") in fields and ("update", "seen_on") in fields


def test_a_step_the_pathway_does_not_have_is_refused(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    [referral_id] = request_referrals(contexts["oncologist"], case_id, [GENETICS])
    navigator = contexts["navigator"]
    version = move_referral(navigator, referral_id, "declined_by_patient", 1)
    with pytest.raises(ValidationError, match="declined by the patient can move to nothing"):
        move_referral(navigator, referral_id, "seen", version)
    with pytest.raises(ValidationError, match=r"^on"):
        [other] = request_referrals(contexts["oncologist"], case_id, [PALLIATIVE])
        move_referral(navigator, other, "accepted", 1, on=TODAY - dt.timedelta(days=1))


def test_a_stale_version_is_a_conflict_and_saves_nothing(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    [referral_id] = request_referrals(contexts["oncologist"], case_id, [PALLIATIVE])
    move_referral(contexts["navigator"], referral_id, "accepted", 1)
    with pytest.raises(ConflictError, match="accepted"):
        move_referral(contexts["chair"], referral_id, "declined_by_patient", 1)
    [row] = case_referrals(contexts["viewer"], case_id)
    assert (row.status, row.closed_on, row.version) == ("accepted", None, 2)


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (ReferralDraft("second_opinion", "patient asks"), "referrals[1].detail"),
        (ReferralDraft("other", "stoma care"), "referrals[1].detail"),
        (ReferralDraft("acupuncture", "asked"), "referrals[1].kind"),
        (ReferralDraft("dietitian", "  "), "referrals[1].reason"),
    ],
)
def test_a_referral_without_what_it_needs_is_refused_and_none_is_saved(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    draft: ReferralDraft,
    field: str,
) -> None:
    case_id = make_case()
    with pytest.raises(ValidationError) as refused:
        request_referrals(contexts["oncologist"], case_id, [PALLIATIVE, draft])
    assert refused.value.field == field
    assert case_referrals(contexts["viewer"], case_id) == []


def test_a_second_opinion_names_its_centre(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    request_referrals(
        contexts["oncologist"],
        case_id,
        [ReferralDraft("second_opinion", "patient asks", detail="CUP clinic, Uppsala")],
    )
    assert case_referrals(contexts["viewer"], case_id)[0].label == (
        "Second opinion (CUP clinic, Uppsala)"
    )


def test_a_decision_of_another_case_is_refused(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    first, second = make_case(), make_case()
    decision_id = record_decision(
        contexts["oncologist"],
        first,
        DecisionDraft(code="clinical_trial", rationale="eligible", decided_on=TODAY),
    )
    with pytest.raises(NotFoundError):
        request_referrals(contexts["oncologist"], second, [PALLIATIVE], decision_id=decision_id)


def test_doctors_request_navigators_follow_up_nobody_else_writes(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    for role in ("navigator", "pathologist", "viewer", "admin"):
        with pytest.raises(PermissionDeniedError):
            request_referrals(contexts[role], case_id, [PALLIATIVE])
    [referral_id] = request_referrals(contexts["oncologist"], case_id, [PALLIATIVE])
    for role in ("pathologist", "viewer", "admin"):
        with pytest.raises(PermissionDeniedError):
            move_referral(contexts[role], referral_id, "accepted", 1)
    url = contexts["viewer"].database_url
    with unit_of_work(url) as session:
        assert session.scalar(select(func.count()).select_from(CareReferral)) == 1
        refused = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "refused")
        )
    assert refused == 7
