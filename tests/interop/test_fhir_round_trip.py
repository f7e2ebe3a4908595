"""Every demo case goes out as a FHIR R4 Bundle and comes back, unchanged, elsewhere.

The receiving database starts empty; after importing every exported Bundle its clinical
content (patients, cases, workup statuses, pathology and IHC, molecular, serum markers,
ECOG, decisions and their meetings) equals the sending database's, patient by patient.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.fhir import resources_by_type
from cupboard.knowledge import fhir_codes as fc
from cupboard.knowledge.performance import ECOG_LOINC_ANSWERS
from cupboard.models import (
    AgendaItem,
    AuditEvent,
    Case,
    Decision,
    EcogObservation,
    IhcResult,
    Investigation,
    MdtMeeting,
    MolecularReport,
    PathologyReport,
    Patient,
    SerumMarkerResult,
)
from cupboard.services.cases import update_case
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import (
    DecisionDraft,
    amend_decision,
    record_decision,
    update_follow_up,
)
from cupboard.services.findings import (
    IhcEntry,
    MolecularFindings,
    add_ihc_results,
    add_molecular_report,
    add_pathology_report,
    add_serum_marker,
)
from cupboard.services.interop import (
    CLI_ACTOR,
    commit_fhir_import,
    export_case_fhir,
    preview_fhir_import,
    read_case_record,
)
from cupboard.services.meetings import create_meeting
from cupboard.services.performance import record_ecog
from cupboard.services.workup import update_investigation
from db.demo_cohort import seed_demo_cohort


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: json.dumps(row, default=str))


def clinical_content(url: str) -> dict[str, dict[str, Any]]:
    """Everything clinical, keyed by MRN, without database ids, users or versions."""
    content: dict[str, dict[str, Any]] = defaultdict(dict)
    with unit_of_work(url) as session:
        mrn_of_case = {
            case.id: patient.mrn
            for case, patient in session.execute(select(Case, Patient).join(Patient))
        }
        for patient in session.scalars(select(Patient)):
            content[patient.mrn]["patient"] = (
                patient.name,
                patient.sex,
                patient.date_of_birth,
                patient.phone,
                patient.referrer_name,
                patient.referrer_phone,
                patient.prior_malignancy,
            )
        for case in session.scalars(select(Case)):
            content[mrn_of_case[case.id]]["case"] = (
                case.status,
                case.diagnostic_stage,
                case.pathway_start,
                case.referral_date,
                case.presentation,
                tuple(case.metastatic_sites),
                case.lesion_count,
                case.bone_pattern,
                case.primary_found_site,
                case.primary_found_by,
                case.primary_found_on,
                case.closing_reason,
                case.closed_on,
            )

        def collect(name: str, model: Any, values: Any) -> None:
            grouped: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
            for row in session.scalars(select(model)):
                grouped[mrn_of_case[row.case_id]].append(values(row))
            for mrn in mrn_of_case.values():
                content[mrn][name] = _sorted(grouped.get(mrn, []))

        # The MDT agenda history: the meetings each case was put before (issue 17).
        collect(
            "agenda", AgendaItem, lambda r: (r.meeting.meeting_date, r.meeting.title, r.question)
        )

        histology = {r.id: r.histology for r in session.scalars(select(PathologyReport))}
        meetings = {m.id: (m.meeting_date, m.title) for m in session.scalars(select(MdtMeeting))}
        collect(
            "investigations",
            Investigation,
            lambda r: (
                r.code,
                r.status,
                r.requested_on,
                r.booked_for,
                r.done_on,
                r.reported_on,
                r.result_text,
                r.responsible,
            ),
        )
        collect(
            "pathology",
            PathologyReport,
            lambda r: (
                r.histology,
                r.differentiation,
                r.biopsy_site,
                r.specimen_type,
                r.reported_on,
                r.pathologist,
                r.comment,
            ),
        )
        collect(
            "ihc",
            IhcResult,
            lambda r: (
                r.marker,
                r.result,
                r.percentage,
                r.reported_on,
                histology.get(r.pathology_report_id),
            ),
        )
        collect(
            "molecular",
            MolecularReport,
            lambda r: (
                r.msi_status,
                r.mmr_status,
                r.tmb,
                r.pdl1_tps,
                r.pdl1_cps,
                tuple(r.alterations),
                r.tissue_of_origin_site,
                r.tissue_of_origin_confidence,
                r.reported_on,
                r.lab,
            ),
        )
        collect(
            "serum",
            SerumMarkerResult,
            lambda r: (r.marker, r.value, r.unit, r.upper_limit_normal, r.measured_on),
        )
        collect(
            "ecog",
            EcogObservation,
            lambda r: (r.score, r.observed_on, r.weight_kg, r.note),
        )
        collect(
            "decisions",
            Decision,
            lambda r: (
                r.code,
                r.presumed_primary,
                r.regimen,
                r.biomarker,
                r.alteration,
                r.target_site,
                r.local_modality,
                r.workup_requested,
                r.plan,
                r.rationale,
                r.ecog_at_decision,
                json.dumps(r.attendees, sort_keys=True),
                r.decided_on,
                r.superseded,
                r.amends_decision_id is not None,
                r.treatment_started_on,
                r.follow_up_due,
                r.follow_up_done_on,
                meetings.get(r.meeting_id),
            ),
        )
    return dict(content)


@pytest.fixture
def demo_cohort(database_url: str) -> list[int]:
    # Seeded as of a week ago: the generator dates serum samples up to four days after
    # the pathway start, i.e. in the future for the newest cases, and an import refuses
    # a future measurement exactly as the form does.
    seed_demo_cohort(database_url, cases=15, today=dt.date.today() - dt.timedelta(days=7))
    with unit_of_work(database_url) as session:
        return list(session.scalars(select(Case.id).order_by(Case.id)))


def test_every_demo_case_round_trips_through_fhir(
    database_url: str, second_database_url: str, demo_cohort: list[int]
) -> None:
    sending = ServiceContext(database_url, CLI_ACTOR)
    receiving = ServiceContext(second_database_url, CLI_ACTOR)
    for case_id in demo_cohort:
        exported = export_case_fhir(sending, case_id, include_identifiers=True)
        # The library validates the whole Bundle (every resource, every datatype).
        bundle = Bundle.model_validate_json(exported.content)
        assert bundle.type == "collection" and bundle.entry
        report = preview_fhir_import(receiving, exported.content, exported.file_name)
        assert report.problems == () and len(report.to_import) == 1, report
        result = commit_fhir_import(receiving, exported.content, exported.file_name)
        assert len(result.created_case_ids) == 1, result

    sent, received = clinical_content(database_url), clinical_content(second_database_url)
    assert len(sent) == 15
    assert sent == received
    # Not a vacuous comparison: the cohort has findings of every kind.
    assert all(content["investigations"] for content in sent.values())
    for kind in ("pathology", "ihc", "serum", "ecog", "decisions", "agenda"):
        assert any(content[kind] for content in sent.values()), kind


def test_bundle_carries_mcode_codes(
    operator: ServiceContext, demo_cohort: list[int], database_url: str
) -> None:
    with unit_of_work(database_url) as session:
        cases = {c.id: c for c in session.scalars(select(Case))}
        ecog = defaultdict(list)
        for row in session.scalars(select(EcogObservation)):
            ecog[row.case_id].append((row.observed_on, row.score))
    checked_stages = set()
    for case_id in demo_cohort:
        case = cases[case_id]
        bundle = Bundle.model_validate_json(export_case_fhir(operator, case_id).content)
        resources = resources_by_type(bundle)
        conditions = resources["Condition"]
        primary = [c for c in conditions if c.code.coding[0].code == "363346000"]
        secondary = [c for c in conditions if c.code.coding[0].code == "128462008"]
        assert len(primary) == 1
        assert len(secondary) == len(case.metastatic_sites)
        condition = primary[0]
        assert condition.code.coding[0].system == "http://snomed.info/sct"
        if case.diagnostic_stage != "primary_found":
            icd10 = [c.code for c in condition.code.coding if c.system == fc.ICD10]
            expected = "C80.9" if case.diagnostic_stage == "muo" else "C80.0"
            assert icd10 == [expected]
            assert condition.bodySite[0].coding[0].code == "C80.9"
            assert condition.bodySite[0].coding[0].system == fc.ICDO3
            checked_stages.add(case.diagnostic_stage)
        for metastasis in secondary:
            icd10 = next(c.code for c in metastasis.code.coding if c.system == fc.ICD10)
            assert icd10[:3] in ("C77", "C78", "C79")
            urls = {e.url for e in metastasis.extension or []}
            assert fc.EXT_RELATED_PRIMARY_CANCER_CONDITION not in urls
        histology = [
            e for e in condition.extension or [] if e.url == fc.EXT_HISTOLOGY_MORPHOLOGY_BEHAVIOR
        ]
        if histology:
            morphology = histology[0].valueCodeableConcept.coding[0]
            assert morphology.system == fc.ICDO3 and morphology.code.endswith("/3")
        observations = [
            o
            for o in resources.get("Observation", [])
            if o.code.coding[0].system == "http://loinc.org" and o.code.coding[0].code == "89247-1"
        ]
        assert sorted((o.effectiveDateTime, o.valueInteger) for o in observations) == sorted(
            ecog[case_id]
        )
        for observation in observations:
            answer = observation.interpretation[0].coding[0]
            assert answer.system == "http://loinc.org"
            assert answer.code == ECOG_LOINC_ANSWERS[observation.valueInteger]
    assert checked_stages & {"provisional_cup", "confirmed_cup"}


def test_ecog_zero_is_answered_la9622_7(
    operator: ServiceContext, make_case: Any, contexts: dict[str, ServiceContext]
) -> None:
    case_id = make_case()
    record_ecog(contexts["oncologist"], case_id, score=0, observed_on=dt.date.today())
    record_ecog(contexts["oncologist"], case_id, score=3, observed_on=dt.date.today())
    bundle = Bundle.model_validate_json(export_case_fhir(operator, case_id).content)
    answers = sorted(
        (o.valueInteger, o.interpretation[0].coding[0].code)
        for o in resources_by_type(bundle)["Observation"]
        if o.code.coding[0].code == "89247-1"
    )
    assert answers == [(0, "LA9622-7"), (3, "LA9625-0")]
    # A new referral is at the MUO stage: primary site unspecified (C80.9), not yet CUP.
    primary = next(
        c for c in resources_by_type(bundle)["Condition"] if c.code.coding[0].code == "363346000"
    )
    assert [c.code for c in primary.code.coding if c.system == fc.ICD10] == ["C80.9"]


def test_reimporting_a_bundle_does_not_duplicate_the_patient(
    operator: ServiceContext, make_case: Any, database_url: str
) -> None:
    case_id = make_case(mrn="RT-1")
    exported = export_case_fhir(operator, case_id, include_identifiers=True)
    report = preview_fhir_import(operator, exported.content, "case.json")
    assert report.to_import == () and [i.mrn for i in report.already_exist] == ["RT-1"]
    result = commit_fhir_import(operator, exported.content, "case.json")
    assert result.created_case_ids == ()
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count(Patient.id)).where(Patient.mrn == "RT-1")) == 1


def test_export_is_audited_and_pseudonymised_by_default(
    operator: ServiceContext, make_case: Any, database_url: str
) -> None:
    case_id = make_case(mrn="SECRET-MRN-1", name="Secret Name")
    exported = export_case_fhir(operator, case_id)
    text = exported.content.decode()
    assert "SECRET-MRN-1" not in text and "Secret Name" not in text
    bundle = Bundle.model_validate_json(exported.content)
    assert bundle.meta.security[0].code == "PSEUDED"
    patient = resources_by_type(bundle)["Patient"][0]
    assert patient.name is None and len(str(patient.birthDate)) == 4
    identified = export_case_fhir(operator, case_id, include_identifiers=True).content.decode()
    assert "SECRET-MRN-1" in identified and "Secret Name" in identified
    with unit_of_work(database_url) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "export", AuditEvent.case_id == case_id)
            .order_by(AuditEvent.id)
        ).all()
    assert [e.reason for e in events] == [
        "FHIR bundle, pseudonymised",
        "FHIR bundle, with identifiers",
    ]
    assert all(e.actor_username == "cli" for e in events)


def test_a_case_with_every_kind_of_record_round_trips(
    contexts: dict[str, ServiceContext],
    make_case: Any,
    database_url: str,
    second_database_url: str,
) -> None:
    """Amended decisions, follow-up, a found primary, unlinked IHC, GEP and weights."""
    today = dt.date.today()
    day = today - dt.timedelta(days=20)
    oncologist, pathologist, chair = (
        contexts["oncologist"],
        contexts["pathologist"],
        contexts["chair"],
    )
    case_id = make_case(
        mrn="EVERY-1",
        sex="male",
        sites=("bone", "mediastinal_nodes"),
        referral_date=day,
        phone="+46 70 123 45 67",
        referrer_name="Dr Ref",
        referrer_phone="+46 8 111",
        prior_malignancy="Melanoma 2001",
        presentation="Back pain; sclerotic lesions",
        lesion_count=6,
        bone_pattern="blastic",
    )
    add_pathology_report(
        pathologist,
        case_id,
        histology="adenocarcinoma",
        reported_on=day + dt.timedelta(days=3),
        differentiation="poor",
        biopsy_site="bone",
        specimen_type="core",
        pathologist="Dr Path",
        comment="Small biopsy; limited panel.",
        ihc=[IhcEntry("PSA", "positive", 70.0), IhcEntry("CK7", "negative")],
    )
    add_ihc_results(
        pathologist, case_id, [IhcEntry("NKX3.1", "equivocal")], day + dt.timedelta(days=5)
    )
    add_molecular_report(
        pathologist,
        case_id,
        MolecularFindings(
            reported_on=day + dt.timedelta(days=8),
            msi_status="MSS",
            mmr_status="proficient",
            tmb=3.2,
            pdl1_tps=5.0,
            pdl1_cps=7.5,
            alterations=("TP53 R273H", "SPOP F133V"),
            tissue_of_origin_site="prostate",
            tissue_of_origin_confidence=0.91,
            lab="Lab A",
        ),
    )
    add_serum_marker(
        oncologist, case_id, marker="PSA", value=412.5, measured_on=day, upper_limit_normal=4.0
    )
    add_serum_marker(oncologist, case_id, marker="LDH", value=180, measured_on=day, unit="U/L")
    record_ecog(oncologist, case_id, score=1, observed_on=day, weight_kg=81.5, note="Walks daily")
    record_ecog(oncologist, case_id, score=2, observed_on=today)
    meeting = create_meeting(chair, meeting_date=day + dt.timedelta(days=10), title="CUP MDT west")
    first = record_decision(
        chair,
        case_id,
        DecisionDraft(
            code="further_workup",
            rationale="PSA high; confirm",
            decided_on=day + dt.timedelta(days=10),
            meeting_id=meeting,
            workup_requested="PSMA PET",
            ecog_at_decision=1,
            attendees=[
                {"name": "Dr S", "discipline": "oncology"},
                {"name": "Dr P", "discipline": "pathology"},
            ],
        ),
    )
    with unit_of_work(database_url) as session:
        version = session.get(Decision, first).version  # type: ignore[union-attr]
    second = amend_decision(
        chair,
        first,
        version,
        DecisionDraft(
            code="site_specific",
            rationale="Prostate profile; PSA 412",
            decided_on=day + dt.timedelta(days=10),
            meeting_id=meeting,
            presumed_primary="prostate",
            plan="Androgen deprivation",
            follow_up_due=today + dt.timedelta(days=30),
        ),
        reason="Pathology review",
    )
    with unit_of_work(database_url) as session:
        version = session.get(Decision, second).version  # type: ignore[union-attr]
    update_follow_up(
        oncologist,
        second,
        version,
        {"treatment_started_on": day + dt.timedelta(days=12), "follow_up_done_on": today},
    )
    with unit_of_work(database_url) as session:
        psa = session.scalar(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == "psa"
            )
        )
        assert psa is not None
        case_version = session.get(Case, case_id).version  # type: ignore[union-attr]
    update_investigation(
        contexts["navigator"],
        psa.id,
        psa.version,
        {"status": "reported", "result_text": "412 ng/mL", "responsible": "Dr Ref"},
    )
    update_case(
        oncologist,
        case_id,
        case_version,
        {
            "status": "closed",
            "closing_reason": "primary_found",
            "primary_found_site": "prostate",
            "primary_found_by": "histopathology_ihc",
        },
    )

    sent = read_case_record(oncologist, case_id)
    exported = export_case_fhir(
        ServiceContext(database_url, CLI_ACTOR), case_id, include_identifiers=True
    )
    receiving = ServiceContext(second_database_url, CLI_ACTOR)
    (new_id,) = commit_fhir_import(receiving, exported.content, "every.json").created_case_ids
    received = read_case_record(receiving, new_id)
    assert received == sent
    assert sent.decisions[0].superseded and sent.decisions[1].amends == 0
    assert sent.case.diagnostic_stage == "primary_found"
    assert [e.weight_kg for e in sent.ecog] == [81.5, None]
    assert [i.marker for i in sent.ihc_without_report] == ["NKX3.1"]
