"""One clinical picture per case (issue 15): every report merged with its provenance,
conflicts between reports shown, the workup following the record, and the working
diagnosis set by an oncologist.

Built through the services, on SQLite and PostgreSQL, as a clinic would record it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, PermissionDeniedError, ValidationError
from cupboard.knowledge import fhir_codes as fc
from cupboard.models import AuditEvent, Investigation
from cupboard.services import case_record
from cupboard.services.case_record import guidance_for
from cupboard.services.cases import set_diagnostic_stage, update_case
from cupboard.services.context import ServiceContext
from cupboard.services.findings import (
    IhcEntry,
    MolecularFindings,
    add_ihc_results,
    add_molecular_report,
    add_pathology_report,
)
from cupboard.services.interop import export_case_fhir
from cupboard.services.performance import record_ecog
from tests.support import investigation_updates

TODAY = dt.date.today()
EARLIER = TODAY - dt.timedelta(days=20)
LATER = TODAY - dt.timedelta(days=5)

Contexts = dict[str, ServiceContext]


def _investigation(url: str, case_id: int, code: str) -> Investigation:
    with unit_of_work(url) as session:
        row = session.scalars(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == code
            )
        ).one()
        session.expunge(row)
        return row


def test_a_later_ngs_report_keeps_the_earlier_reports_msi_mmr_and_tmb(
    contexts: Contexts, make_case: Callable[..., int]
) -> None:
    pathologist = contexts["pathologist"]
    case_id = make_case()
    first = add_molecular_report(
        pathologist,
        case_id,
        MolecularFindings(EARLIER, msi_status="MSI-H", mmr_status="deficient", tmb=24.0),
    )
    second = add_molecular_report(
        pathologist,
        case_id,
        MolecularFindings(LATER, alterations=("ETV6::NTRK3 fusion",), lab="NGS lab"),
    )

    record = case_record.case_record(contexts["viewer"], case_id)
    profile = record.profile
    assert (profile.msi, profile.mmr, profile.tmb) == ("MSI-H", "deficient", 24.0)
    assert [getattr(a, "label", a) for a in profile.alterations] == ["ETV6::NTRK3 fusion"]
    # Each value says which report it came from.
    provenance = record.picture.provenance
    assert provenance["msi"].report_id == first and provenance["msi"].on == EARLIER
    assert provenance["tmb"].report_id == first
    assert provenance["alteration.ETV6::NTRK3 fusion"].report_id == second
    # The guidance sees both reports: the immunotherapy flags stay beside the fusion.
    guidance = guidance_for(profile)
    assert guidance.immunotherapy_candidate
    flagged = {flag.biomarker for flag in guidance.tumour_agnostic}
    assert {"MSI-H", "dMMR", "NTRK fusion"} <= flagged
    assert record.conflicts == ()


def test_reports_that_contradict_each_other_are_shown_not_resolved(
    contexts: Contexts, make_case: Callable[..., int]
) -> None:
    pathologist = contexts["pathologist"]
    case_id = make_case()
    add_molecular_report(pathologist, case_id, MolecularFindings(EARLIER, msi_status="MSI-H"))
    add_molecular_report(pathologist, case_id, MolecularFindings(LATER, msi_status="MSS"))
    add_ihc_results(pathologist, case_id, [IhcEntry("ER", "positive")], EARLIER)
    add_ihc_results(pathologist, case_id, [IhcEntry("ER", "negative")], LATER)
    # An equivocal result is not a contradiction of either.
    add_ihc_results(pathologist, case_id, [IhcEntry("CK7", "positive")], EARLIER)
    add_ihc_results(pathologist, case_id, [IhcEntry("CK7", "equivocal")], LATER)

    record = case_record.case_record(contexts["viewer"], case_id)
    conflicts = {c.field: c for c in record.conflicts}
    assert set(conflicts) == {"MSI", "ER"}
    assert conflicts["MSI"].newer == "MSS" and conflicts["MSI"].older == "MSI-H"
    assert conflicts["MSI"].newer_from.on == LATER
    assert conflicts["MSI"].older_from.on == EARLIER
    assert "MSI-H" in conflicts["MSI"].message and "MSS" in conflicts["MSI"].message
    assert conflicts["ER"].newer == "ER−" and conflicts["ER"].older == "ER+"
    # The newest value is what the guidance reads; the conflict keeps the older in view.
    assert record.profile.msi == "MSS"
    assert record.profile.ihc["ER"] == "negative"


def test_recording_histopathology_marks_biopsy_and_histopathology_done(
    contexts: Contexts, make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case()
    assert _investigation(database_url, case_id, "biopsy").status == "to_request"
    add_pathology_report(
        contexts["pathologist"],
        case_id,
        histology="adenocarcinoma",
        reported_on=LATER,
        ihc=[IhcEntry("CK7", "positive")],
    )

    biopsy = _investigation(database_url, case_id, "biopsy")
    histopathology = _investigation(database_url, case_id, "histopathology_ihc")
    assert (biopsy.status, biopsy.done_on) == ("done", LATER)
    assert (histopathology.status, histopathology.reported_on) == ("reported", LATER)
    for row in (biopsy, histopathology):
        (audit,) = investigation_updates(database_url, row.id, "status")
        assert audit.actor_username == contexts["pathologist"].actor.username
        assert "histopathology report" in (audit.reason or "")
        assert "consequence" in (audit.reason or "")
    record = case_record.case_record(contexts["viewer"], case_id)
    missing = {row.code for row in record.missing_before_mdt}
    assert not missing & {"biopsy", "histopathology_ihc"}


def test_a_second_ihc_panel_does_not_move_the_workup_backwards(
    contexts: Contexts, make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case()
    add_ihc_results(contexts["pathologist"], case_id, [IhcEntry("CK7", "positive")], EARLIER)
    add_ihc_results(contexts["pathologist"], case_id, [IhcEntry("CK20", "negative")], LATER)
    histopathology = _investigation(database_url, case_id, "histopathology_ihc")
    assert (histopathology.status, histopathology.reported_on) == ("reported", EARLIER)
    assert len(investigation_updates(database_url, histopathology.id, "status")) == 1


def test_ecog_1_turns_ngs_from_not_indicated_to_to_request(
    contexts: Contexts, make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case()
    ngs = _investigation(database_url, case_id, "ngs")
    assert ngs.status == "not_indicated"

    record_ecog(contexts["navigator"], case_id, score=1, observed_on=LATER)

    ngs = _investigation(database_url, case_id, "ngs")
    assert ngs.status == "to_request"
    (audit,) = investigation_updates(database_url, ngs.id, "status")
    assert "ECOG 1" in (audit.reason or "") and "ECOG 0-1" in (audit.reason or "")
    row = next(r for r in case_record.workup(contexts["viewer"], case_id) if r.code == "ngs")
    assert row.missing_before_mdt
    assert row.required_reason and "ECOG 0-1" in row.required_reason


def test_ecog_3_leaves_ngs_not_indicated(
    contexts: Contexts, make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case()
    record_ecog(contexts["navigator"], case_id, score=3, observed_on=LATER)
    assert _investigation(database_url, case_id, "ngs").status == "not_indicated"


def _stage_events(url: str, case_id: int) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.entity == "case",
                    AuditEvent.entity_id == case_id,
                    AuditEvent.field == "diagnostic_stage",
                )
                .order_by(AuditEvent.id)
            )
        )


def test_an_oncologist_sets_the_working_diagnosis_audited_and_version_checked(
    contexts: Contexts, make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case()
    oncologist = contexts["oncologist"]
    seen = case_record.case_header(oncologist, case_id).version
    set_diagnostic_stage(oncologist, case_id, seen, "provisional_cup", reason="MDT review")

    header = case_record.case_header(oncologist, case_id)
    assert header.diagnostic_stage == "provisional_cup"
    (event,) = _stage_events(database_url, case_id)
    assert (json.loads(event.before or "null"), json.loads(event.after or "null")) == (
        "muo",
        "provisional_cup",
    )
    assert event.actor_username == oncologist.actor.username and event.reason == "MDT review"

    # Someone who still sees the first version is refused, naming what they missed.
    with pytest.raises(ConflictError):
        set_diagnostic_stage(contexts["chair"], case_id, seen, "confirmed_cup")

    set_diagnostic_stage(
        contexts["chair"], case_id, header.version, "primary_found", primary_site="lung"
    )
    header = case_record.case_header(oncologist, case_id)
    assert (header.diagnostic_stage, header.primary_found_site) == ("primary_found", "lung")


def test_primary_found_needs_its_site(contexts: Contexts, make_case: Callable[..., int]) -> None:
    case_id = make_case()
    seen = case_record.case_header(contexts["chair"], case_id).version
    with pytest.raises(ValidationError) as refused:
        set_diagnostic_stage(contexts["chair"], case_id, seen, "primary_found")
    assert refused.value.field == "primary_found_site"


@pytest.mark.parametrize("role", ["navigator", "viewer", "pathologist"])
def test_only_oncologists_and_chairs_change_the_working_diagnosis(
    role: str, contexts: Contexts, make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case()
    seen = case_record.case_header(contexts[role], case_id).version
    with pytest.raises(PermissionDeniedError):
        set_diagnostic_stage(contexts[role], case_id, seen, "confirmed_cup")
    if role == "navigator":
        # Nor through the status change the navigator may make.
        with pytest.raises(PermissionDeniedError):
            update_case(contexts[role], case_id, seen, {"diagnostic_stage": "confirmed_cup"})
    assert case_record.case_header(contexts["viewer"], case_id).diagnostic_stage == "muo"
    assert _stage_events(database_url, case_id) == []


def _primary_condition(ctx: ServiceContext, case_id: int) -> dict[str, object]:
    bundle = json.loads(export_case_fhir(ctx, case_id).content)
    # The primary cancer condition by its SNOMED code (a pseudonymised bundle claims no
    # profile that would name it).
    (condition,) = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Condition"
        and any(
            coding.get("code") == fc.MALIGNANT_NEOPLASTIC_DISEASE.code
            for coding in e["resource"]["code"]["coding"]
        )
    ]
    return condition


def test_the_working_diagnosis_reaches_the_fhir_condition(
    contexts: Contexts, make_case: Callable[..., int]
) -> None:
    chair = contexts["chair"]
    case_id = make_case()
    verification = _primary_condition(chair, case_id)["verificationStatus"]
    assert json.dumps(verification).count('"provisional"') == 1
    seen = case_record.case_header(chair, case_id).version
    set_diagnostic_stage(chair, case_id, seen, "confirmed_cup")
    verification = _primary_condition(chair, case_id)["verificationStatus"]
    assert json.dumps(verification).count('"confirmed"') == 1

    seen = case_record.case_header(chair, case_id).version
    set_diagnostic_stage(chair, case_id, seen, "primary_found", primary_site="lung")
    condition = _primary_condition(chair, case_id)
    assert condition["code"]["text"] == "Primary found: Lung"  # type: ignore[index]


def test_a_recorded_symptom_requests_its_directed_investigation(
    contexts: Contexts, make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case(sex="male", sites=("liver",))
    assert _investigation(database_url, case_id, "cystoscopy").status == "not_indicated"
    navigator = contexts["navigator"]
    seen = case_record.case_header(navigator, case_id).version
    update_case(navigator, case_id, seen, {"symptoms": ["haematuria"]})

    record = case_record.case_record(contexts["viewer"], case_id)
    assert record.profile.symptoms == ("haematuria",)
    cystoscopy = _investigation(database_url, case_id, "cystoscopy")
    assert cystoscopy.status == "to_request"
    (audit,) = investigation_updates(database_url, cystoscopy.id, "status")
    assert "haematuria" in (audit.reason or "")
    assert "cystoscopy" in {row.code for row in record.missing_before_mdt}


def test_pregnancy_is_part_of_a_womans_picture_and_refused_for_a_man(
    contexts: Contexts, make_case: Callable[..., int]
) -> None:
    navigator = contexts["navigator"]
    woman = make_case(sex="female")
    update_case(navigator, woman, 1, {"pregnant": True})
    assert case_record.case_record(contexts["viewer"], woman).profile.pregnant is True

    man = make_case(sex="male")
    with pytest.raises(ValidationError) as refused:
        update_case(navigator, man, 1, {"pregnant": True})
    assert refused.value.field == "pregnant"
    assert case_record.case_record(contexts["viewer"], man).profile.pregnant is None
    with pytest.raises(ValidationError):
        update_case(navigator, woman, 2, {"symptoms": ["not-a-symptom"]})


def test_the_gp_letter_carries_the_working_diagnosis_and_every_reports_results(
    contexts: Contexts, make_case: Callable[..., int]
) -> None:
    from cupboard.services.clinic_summary import clinic_summary

    case_id = make_case()
    pathologist, chair = contexts["pathologist"], contexts["chair"]
    add_molecular_report(
        pathologist, case_id, MolecularFindings(EARLIER, msi_status="MSI-H", mmr_status="deficient")
    )
    add_molecular_report(
        pathologist, case_id, MolecularFindings(LATER, msi_status="MSS", alterations=("KRAS G12C",))
    )
    assert clinic_summary(chair, case_id).letter.diagnosis.startswith("Metastatic malignancy")
    seen = case_record.case_header(chair, case_id).version
    set_diagnostic_stage(chair, case_id, seen, "confirmed_cup")

    letter = clinic_summary(chair, case_id).letter
    assert letter.diagnosis == "Confirmed CUP"
    assert f"Molecular report of {LATER.isoformat()}: MSS, KRAS G12C" in letter.findings
    assert f"Molecular report of {EARLIER.isoformat()}: MMR deficient" in letter.findings
    assert any(
        line.startswith("Reports disagree: MSI: MSS") and "MSI-H" in line
        for line in letter.findings
    )
