"""The trial register through the service layer, on SQLite and PostgreSQL: import from a
ClinicalTrials.gov study record, criteria completed by hand, closing; every change
validated, version-checked and audited; matching reads only recruiting trials."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, PermissionDeniedError, ValidationError
from cupboard.guidance import Alteration, CaseProfile, assess_case
from cupboard.models import AuditEvent, Trial
from cupboard.services.context import ServiceContext
from cupboard.services.trials import (
    TrialDraft,
    add_trial,
    close_trial,
    get_trial,
    import_ctgov_study,
    list_trials,
    parse_ctgov_study,
    trial_matches,
    update_trial,
)
from cupboard.trials import ELIGIBLE, POSSIBLY_ELIGIBLE

STUDY = Path(__file__).resolve().parent.parent / "data" / "ctgov_study_ntrk_basket.json"
NTRK_CRITERIA = {"required_biomarkers": ["NTRK fusion"], "ecog_max": 2, "age_min": 18}


def _audit(url: str, trial_id: int) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "trial", AuditEvent.entity_id == trial_id)
                .order_by(AuditEvent.id)
            )
        )


def _trial_count(url: str) -> int:
    with unit_of_work(url) as session:
        return session.scalar(select(func.count()).select_from(Trial)) or 0


def test_import_from_a_ctgov_study_record_then_complete_the_criteria(
    contexts: dict[str, ServiceContext],
) -> None:
    navigator = contexts["navigator"]
    trial_id = import_ctgov_study(
        navigator, STUDY.read_bytes(), site_contact="Trials unit, ext 4321"
    )
    trial = get_trial(navigator, trial_id)
    assert (trial.identifier, trial.phase, trial.status) == ("NCT09990001", "Phase 2", "recruiting")
    assert trial.title.startswith("A Basket Study of a TRK Inhibitor")
    assert "Carcinoma of Unknown Primary" in trial.conditions
    assert trial.eligibility_text is not None and "NTRK1, NTRK2 or NTRK3" in trial.eligibility_text
    assert (trial.criteria.age_min, trial.criteria.sex) == (18, "all")
    assert trial.criteria.required_biomarkers == ()  # prose: completed by hand
    assert trial.site_contact == "Trials unit, ext 4321"

    version = update_trial(navigator, trial_id, {"criteria": NTRK_CRITERIA}, trial.version)
    completed = get_trial(navigator, trial_id)
    assert completed.criteria.required_biomarkers == ("NTRK fusion",)
    assert completed.version == version == trial.version + 1
    events = _audit(navigator.database_url, trial_id)
    assert [(e.action, e.field) for e in events] == [("create", None), ("update", "criteria")]
    assert all(e.actor_username == "test-navigator" for e in events)


def test_a_stale_version_is_refused_and_names_who_changed_what(
    contexts: dict[str, ServiceContext],
) -> None:
    navigator, chair = contexts["navigator"], contexts["chair"]
    trial_id = add_trial(navigator, TrialDraft("NCT09990002", "CUP chemo-IO", NTRK_CRITERIA))
    seen = get_trial(navigator, trial_id).version
    update_trial(chair, trial_id, {"site_contact": "Dr Ward"}, seen)
    with pytest.raises(ConflictError, match="site contact"):
        close_trial(navigator, trial_id, seen)
    assert get_trial(navigator, trial_id).status == "recruiting"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"criteria": {"required_biomarkers": ["PD-L1"]}}, "criteria.required_biomarkers"),
        ({"criteria": {"ecog_max": 9}}, "criteria.ecog_max"),
        ({"criteria": {"brain_mets": False}}, "criteria.brain_mets"),
        ({"status": "suspended"}, "status"),
        ({"title": ""}, "title"),
        ({"version": 1}, "version"),
    ],
)
def test_invalid_changes_are_refused_naming_the_field(
    contexts: dict[str, ServiceContext], changes: dict[str, object], field: str
) -> None:
    navigator = contexts["navigator"]
    trial_id = add_trial(navigator, TrialDraft("NCT09990003", "A trial"))
    before = get_trial(navigator, trial_id)
    with pytest.raises(ValidationError) as refused:
        update_trial(navigator, trial_id, changes, before.version)
    assert refused.value.field == field
    assert get_trial(navigator, trial_id) == before
    assert len(_audit(navigator.database_url, trial_id)) == 1


def test_identifier_must_be_nct_or_eu_ct_and_unique(contexts: dict[str, ServiceContext]) -> None:
    navigator = contexts["navigator"]
    with pytest.raises(ValidationError) as refused:
        add_trial(navigator, TrialDraft("trial 7", "A trial"))
    assert refused.value.field == "identifier"
    add_trial(navigator, TrialDraft("2023-503456-12-00", "An EU trial"))
    with pytest.raises(ValidationError, match="already in the register"):
        add_trial(navigator, TrialDraft("2023-503456-12-00", "The same trial again"))
    assert _trial_count(navigator.database_url) == 1


def test_only_navigator_and_chair_manage_trials(contexts: dict[str, ServiceContext]) -> None:
    for role in ("oncologist", "pathologist", "viewer", "admin"):
        with pytest.raises(PermissionDeniedError):
            add_trial(contexts[role], TrialDraft("NCT09990004", "A trial"))
        with pytest.raises(PermissionDeniedError):
            import_ctgov_study(contexts[role], STUDY.read_bytes())
    assert _trial_count(contexts["navigator"].database_url) == 0
    add_trial(contexts["chair"], TrialDraft("NCT09990004", "A trial"))


def test_matching_reads_recruiting_trials_and_a_fusion_makes_the_trial_eligible(
    contexts: dict[str, ServiceContext],
) -> None:
    navigator, oncologist = contexts["navigator"], contexts["oncologist"]
    ntrk = add_trial(navigator, TrialDraft("NCT09990005", "NTRK basket", NTRK_CRITERIA))
    closed = add_trial(navigator, TrialDraft("NCT09990006", "Closed basket", NTRK_CRITERIA))
    close_trial(navigator, closed, get_trial(navigator, closed).version)
    assert [t.identifier for t in list_trials(oncologist, recruiting_only=True)] == ["NCT09990005"]

    before = CaseProfile(sex="female", age=61, histology="adenocarcinoma", ecog=1)
    (only,) = trial_matches(oncologist, before, assess_case(before))
    assert (only.trial.identifier, only.match.state) == ("NCT09990005", POSSIBLY_ELIGIBLE)
    assert only.match.unknown[0].reason == "NGS not done"

    after = CaseProfile(
        sex="female",
        age=61,
        histology="adenocarcinoma",
        ecog=1,
        alterations=(Alteration("NTRK3", "fusion", "ETV6-NTRK3"),),
    )
    (only,) = trial_matches(oncologist, after, assess_case(after))
    assert only.match.state == ELIGIBLE
    assert get_trial(oncologist, ntrk).status == "recruiting"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "study record"),
        (b'{"studies": []}', "study record"),
        (
            b'{"protocolSection": {"identificationModule": {"briefTitle": "x"}}}',
            "identificationModule.nctId",
        ),
        (
            b'{"protocolSection": {"identificationModule": {"nctId": "NCT09990007",'
            b' "briefTitle": "x"}, "eligibilityModule": {"minimumAge": "eighteen"}}}',
            "eligibilityModule.minimumAge",
        ),
    ],
)
def test_a_bad_study_record_is_refused_naming_the_field(content: bytes, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_ctgov_study(content)
    assert refused.value.field == field


def test_not_yet_recruiting_is_not_recruiting() -> None:
    text = STUDY.read_text().replace('"RECRUITING"', '"NOT_YET_RECRUITING"')
    assert parse_ctgov_study(text).status == "closed"
