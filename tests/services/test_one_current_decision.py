"""One current decision per case and meeting (issue 14 point 2).

Before: chair and oncologist could each record a different decision for the same case
and meeting; both were told "Decision recorded" and the GP letter listed both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, ValidationError
from cupboard.models import Decision
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import (
    DecisionConflictError,
    DecisionDraft,
    amend_decision,
    record_decision,
)
from cupboard.services.meetings import create_meeting
from tests.support import run_in_threads

TODAY = dt.date.today()
SUPPORTIVE = DecisionDraft("best_supportive_care", "ECOG 3, frail", TODAY)
CHEMO = DecisionDraft(
    "empiric_platinum_taxane", "Unfavourable CUP, fit", TODAY, regimen="carboplatin + paclitaxel"
)


def _at(draft: DecisionDraft, meeting_id: int | None) -> DecisionDraft:
    return DecisionDraft(**{**draft.__dict__, "meeting_id": meeting_id})


def _current(url: str, case_id: int) -> list[tuple[str, int | None]]:
    with unit_of_work(url) as session:
        return [
            (d.code, d.meeting_id)
            for d in session.scalars(
                select(Decision)
                .where(Decision.case_id == case_id, Decision.superseded.is_(False))
                .order_by(Decision.id)
            )
        ]


def test_the_second_of_two_saves_for_one_meeting_is_told_what_the_first_decided(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    chair, oncologist = contexts["chair"], contexts["oncologist"]
    case_id = make_case()
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    record_decision(chair, case_id, _at(SUPPORTIVE, meeting))
    # The oncologist opened the form before the chair saved: they saw no decision.
    with pytest.raises(ConflictError) as refused:
        record_decision(oncologist, case_id, _at(CHEMO, meeting), seen_decision_id=None)
    message = str(refused.value)
    assert isinstance(refused.value, DecisionConflictError)
    assert "Test Chair recorded the decision for this case at this meeting" in message
    assert "Best supportive care" in message and "ECOG 3, frail" in message
    assert f"{TODAY.isoformat()} " in message and "Nothing of yours was saved" in message
    assert _current(chair.database_url, case_id) == [("best_supportive_care", meeting)]


def test_recording_again_after_seeing_the_decision_says_amend_it(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    chair = contexts["chair"]
    case_id = make_case()
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    first = record_decision(chair, case_id, _at(SUPPORTIVE, meeting))
    with pytest.raises(ValidationError, match="amend it instead"):
        record_decision(chair, case_id, _at(CHEMO, meeting), seen_decision_id=first)
    # Amending carries the version seen, as before, and leaves one current decision.
    amend_decision(chair, first, 1, _at(CHEMO, meeting), reason="re-assessed ECOG")
    assert _current(chair.database_url, case_id) == [("empiric_platinum_taxane", meeting)]


def test_another_meeting_or_another_day_outside_a_meeting_is_a_decision_of_its_own(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    chair, oncologist = contexts["chair"], contexts["oncologist"]
    case_id = make_case()
    first = create_meeting(contexts["navigator"], meeting_date=TODAY - dt.timedelta(days=7))
    second = create_meeting(contexts["navigator"], meeting_date=TODAY)
    record_decision(chair, case_id, _at(SUPPORTIVE, first))
    record_decision(chair, case_id, _at(CHEMO, second))
    earlier = DecisionDraft(
        "further_workup", "Primary not found", TODAY - dt.timedelta(days=3), workup_requested="PET"
    )
    record_decision(oncologist, case_id, earlier)
    # Outside a meeting, the day is the occasion: a second one that day is a conflict.
    record_decision(oncologist, case_id, SUPPORTIVE)
    with pytest.raises(DecisionConflictError, match="outside a meeting"):
        record_decision(chair, case_id, CHEMO)
    assert len(_current(chair.database_url, case_id)) == 4


def test_an_amendment_moved_onto_a_decided_meeting_is_a_conflict(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    chair = contexts["chair"]
    case_id = make_case()
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    record_decision(chair, case_id, _at(SUPPORTIVE, meeting))
    outside = record_decision(chair, case_id, CHEMO)
    with pytest.raises(DecisionConflictError):
        amend_decision(chair, outside, 1, _at(CHEMO, meeting), reason="was at the MDT")
    assert _current(chair.database_url, case_id) == [
        ("best_supportive_care", meeting),
        ("empiric_platinum_taxane", None),
    ]


def test_two_saves_racing_for_one_meeting_leave_exactly_one_current_decision(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    chair, oncologist = contexts["chair"], contexts["oncologist"]
    case_id = make_case()
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    saved: list[int] = []
    parties = ((chair, SUPPORTIVE), (oncologist, CHEMO))

    def save(n: int) -> None:
        ctx, draft = parties[n]
        saved.append(record_decision(ctx, case_id, _at(draft, meeting)))

    errors = run_in_threads(2, save, start_together=True)
    assert len(saved) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], DecisionConflictError), errors
    [(code, _)] = _current(chair.database_url, case_id)
    winner = "Test Chair" if code == "best_supportive_care" else "Test Oncologist"
    assert f"{winner} recorded the decision" in str(errors[0])


def test_the_database_refuses_a_second_current_decision_whatever_the_code_does(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    """The partial unique indexes of migration 0004: the guard against two
    transactions that both checked before either inserted."""
    chair = contexts["chair"]
    case_id = make_case()
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY)
    first = record_decision(chair, case_id, _at(SUPPORTIVE, meeting))
    for meeting_id in (meeting, None):
        if meeting_id is None:
            record_decision(chair, case_id, SUPPORTIVE)
        with pytest.raises(IntegrityError), unit_of_work(chair.database_url) as session:
            session.add(
                Decision(
                    case_id=case_id,
                    meeting_id=meeting_id,
                    code="best_supportive_care",
                    rationale="a second one",
                    decided_on=TODAY,
                )
            )
    # Superseded decisions do not count: an amendment stands beside its original.
    amend_decision(chair, first, 1, _at(CHEMO, meeting), reason="re-assessed")
    assert len(_current(chair.database_url, case_id)) == 2
