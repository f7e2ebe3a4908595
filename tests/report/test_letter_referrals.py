"""The GP letter and the before-clinic summary list the referrals made beside the
decision, each with its status (issue 21), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from pypdf import PdfReader

from cupboard.services.clinic_summary import clinic_summary, export_outcome_letter
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.referrals import ReferralDraft, move_referral, request_referrals

TODAY = dt.date.today()


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_letter_lists_each_referral_with_its_status(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    oncologist = contexts["oncologist"]
    case_id = make_case()
    decision_id = record_decision(
        oncologist,
        case_id,
        DecisionDraft(code="clinical_trial", rationale="eligible", decided_on=TODAY),
    )
    palliative, _ = request_referrals(
        oncologist,
        case_id,
        [
            ReferralDraft("palliative_care", "ECOG 2: early palliative care"),
            ReferralDraft("second_opinion", "patient asks", detail="CUP clinic Uppsala"),
        ],
        decision_id=decision_id,
    )
    move_referral(contexts["navigator"], palliative, "seen", 1)

    view = clinic_summary(contexts["viewer"], case_id)
    assert [r.kind for r in view.referrals] == ["palliative_care", "second_opinion"]
    assert view.letter.referrals == (
        f"Palliative care: requested {TODAY.isoformat()}; seen {TODAY.isoformat()}. "
        "Reason: ECOG 2: early palliative care",
        f"Second opinion (CUP clinic Uppsala): requested {TODAY.isoformat()}. Reason: patient asks",
    )
    text = _text(export_outcome_letter(oncologist, case_id))
    assert "Referrals" in text
    assert "Palliative care: requested" in text and "seen" in text
    assert "Second opinion (CUP clinic Uppsala)" in text


def test_a_letter_without_referrals_says_so(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    assert clinic_summary(contexts["viewer"], case_id).letter.referrals == ()
    text = _text(export_outcome_letter(contexts["oncologist"], case_id))
    assert "No referral made beside the decision." in text
