"""Referrals beside the decision on the case page (issue 21): the guidance's prompts are
offered unticked, a doctor requests them, the navigator moves them on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cupboard.services.context import ServiceContext
from cupboard.services.findings import MolecularFindings, add_molecular_report
from cupboard.services.performance import record_ecog
from cupboard.services.referrals import ReferralDraft, case_referrals, request_referrals

TODAY = dt.date.today()


def _decision_tab(open_page: Callable[..., Any], role: str, case_id: int) -> Any:
    app = open_page("pages/case.py", role=role, query={"case_id": str(case_id)})
    app.session_state[f"case_tabs_{case_id}"] = "Decision"
    app.run()
    assert not app.exception, app.exception
    return app


def _unwell_msi_high_case(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> int:
    case_id = make_case()
    record_ecog(contexts["oncologist"], case_id, score=2, observed_on=TODAY)
    add_molecular_report(
        contexts["pathologist"], case_id, MolecularFindings(reported_on=TODAY, msi_status="MSI-H")
    )
    return case_id


def test_prompts_are_offered_unticked_and_a_doctor_requests_them(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = _unwell_msi_high_case(contexts, make_case)
    app = _decision_tab(open_page, "oncologist", case_id)
    assert "Referrals beside the decision" in [s.value for s in app.subheader]
    key = f"case_{case_id}_referrals"
    palliative = app.checkbox(key=f"{key}_prompt_palliative_care")
    genetics = app.checkbox(key=f"{key}_prompt_clinical_genetics")
    assert "ECOG 2" in palliative.label and "MSI-H" in genetics.label
    assert (palliative.value, genetics.value) == (False, False)  # never pre-ticked

    palliative.check()
    app.multiselect(key=f"{key}_others").select("psycho_oncology")
    app.text_input(key=f"{key}_reason").input("New diagnosis of CUP, anxious")
    [submit] = [b for b in app.button if b.label == "Request referrals"]
    submit.click().run()
    assert not app.exception and [e.value for e in app.error] == []
    made = case_referrals(contexts["viewer"], case_id)
    assert [(r.kind, r.prompted, r.status) for r in made] == [
        ("palliative_care", True, "requested"),
        ("psycho_oncology", False, "requested"),
    ]
    assert {r.reason for r in made} == {"New diagnosis of CUP, anxious"}
    # Requested: no longer offered; genetics, not requested, still is.
    assert app.checkbox(key=f"{key}_prompt_clinical_genetics").value is False
    assert not any(c.key == f"{key}_prompt_palliative_care" for c in app.checkbox)
    table = app.dataframe[-1].value
    assert list(table["Referral"]) == ["Palliative care", "Psycho-oncology"]


def test_a_suggested_referral_left_without_a_reason_takes_the_guidance_reason(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = _unwell_msi_high_case(contexts, make_case)
    app = _decision_tab(open_page, "chair", case_id)
    app.checkbox(key=f"case_{case_id}_referrals_prompt_clinical_genetics").check()
    next(b for b in app.button if b.label == "Request referrals").click().run()
    [made] = case_referrals(contexts["viewer"], case_id)
    assert made.kind == "clinical_genetics" and "Lynch" in made.reason


def test_the_navigator_moves_a_referral_to_seen(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case()
    [referral_id] = request_referrals(
        contexts["oncologist"], case_id, [ReferralDraft("dietitian", "weight loss")]
    )
    app = _decision_tab(open_page, "navigator", case_id)
    key = f"case_{case_id}_referrals"
    # The navigator follows referrals up; requesting them is the doctors'.
    assert not any(b.label == "Request referrals" for b in app.button)
    app.selectbox(key=f"{key}_next_{referral_id}").select("seen")
    app.button(key=f"{key}_move_{referral_id}_1").click().run()
    assert not app.exception and [e.value for e in app.error] == []
    [seen] = case_referrals(contexts["viewer"], case_id)
    assert (seen.status, seen.seen_on) == ("seen", TODAY)
    assert list(app.dataframe[-1].value["Status"]) == ["Seen"]


def test_the_before_clinic_summary_shows_the_referrals(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case()
    request_referrals(
        contexts["oncologist"],
        case_id,
        [ReferralDraft("rehabilitation", "deconditioned after admission")],
    )
    app = open_page("pages/summary.py", role="viewer", query={"case_id": str(case_id)})
    assert not app.exception, app.exception
    assert "Referrals" in [h.value for h in app.header]
    table = app.table[0].value
    assert list(table["Referral"]) == ["Rehabilitation"]
    assert list(table["Status"]) == ["Requested"]


def test_analytics_shows_the_share_referred_to_palliative_care_within_30_days(
    database_url: str,
    contexts: dict[str, ServiceContext],
    open_page: Callable[..., Any],
) -> None:
    from sqlalchemy import select

    from cupboard.db import unit_of_work
    from cupboard.models import Case
    from db.demo_cohort import seed_demo_cohort

    seed_demo_cohort(database_url, cases=40)
    with unit_of_work(database_url) as session:
        case_id, day0 = session.execute(
            select(Case.id, Case.pathway_start)
            .where(Case.pathway_start <= TODAY - dt.timedelta(days=40))
            .order_by(Case.id)
            .limit(1)
        ).one()
    request_referrals(
        contexts["oncologist"],
        case_id,
        [ReferralDraft("palliative_care", "ECOG 2")],
        requested_on=day0 + dt.timedelta(days=10),
    )
    app = open_page("pages/analytics.py", role="viewer")
    assert not app.exception, app.exception
    assert "Palliative care within 30 days" in [s.value for s in app.subheader]
    [table] = [d.value for d in app.dataframe if "referred" in d.value.columns]
    assert int(table["referred"].sum()) == 1
    assert int(table["judged"].sum()) >= 1
