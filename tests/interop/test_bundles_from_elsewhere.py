"""Bundles as other software publishes them (issue 17): a published IPS example comes in
as a new referral with a line for everything not imported; resources about someone
else, R4-only resource types and decisions listed out of order are handled safely."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.fhir import (
    CaseData,
    CaseRecord,
    DecisionData,
    PatientData,
    bundle_json,
    case_bundle,
    record_from_bundle,
)
from cupboard.importing import MalformedFileError
from cupboard.models import Case, Patient
from cupboard.services.context import ServiceContext
from cupboard.services.interop import (
    commit_fhir_import,
    export_case_fhir,
    preview_fhir_import,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "fhir"
TODAY = dt.date(2026, 12, 5)


def test_the_ips_example_comes_in_as_a_new_referral_with_a_line_per_resource_left_out(
    operator: ServiceContext, database_url: str
) -> None:
    content = (DATA / "ips-example-bundle-01.json").read_bytes()
    entries = json.loads(content)["entry"]
    report = preview_fhir_import(operator, content, "ips.json", today=TODAY)
    assert report.problems == ()
    assert [(i.mrn, i.name) for i in report.to_import] == [("574687583", "Martha DeLarosa")]
    # Every entry but the Patient is named in the report with the reason it stays out.
    left_out = {
        note.split(" ", 2)[1].rstrip(":") for note in report.notes if "not imported" in note
    }
    assert left_out == {
        str(n) for n, e in enumerate(entries, 1) if e["resource"]["resourceType"] != "Patient"
    }
    assert any("Composition): not imported" in note for note in report.notes)
    assert any("254837009 Malignant tumor of breast" in note for note in report.notes)
    assert any("pathway start 2026-12-05 (today" in note for note in report.notes)

    result = commit_fhir_import(operator, content, "ips.json", today=TODAY)
    assert len(result.created_case_ids) == 1
    with unit_of_work(database_url) as session:
        case = session.get(Case, result.created_case_ids[0])
        patient = session.scalar(select(Patient))
        assert case is not None and patient is not None
        assert (case.referral_date, case.pathway_start, case.status) == (TODAY, TODAY, "referred")
        assert (patient.name, patient.sex, patient.date_of_birth) == (
            "Martha DeLarosa",
            "female",
            dt.date(1972, 5, 1),
        )


def _exported(make_case: Callable[..., int], operator: ServiceContext) -> dict[str, Any]:
    case_id = make_case(mrn="ELSE-1")
    bundle: dict[str, Any] = json.loads(
        export_case_fhir(operator, case_id, include_identifiers=True).content
    )
    return bundle


def test_an_observation_about_another_patient_is_refused(
    operator: ServiceContext, make_case: Callable[..., int]
) -> None:
    bundle = _exported(make_case, operator)
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:0d1e7f3a-9a4b-4c43-8a10-3b6f6c1d2e99",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
                "subject": {"reference": "Patient/somebody-else"},
                "effectiveDateTime": "2026-11-30",
                "valueInteger": 4,
            },
        }
    )
    n = len(bundle["entry"])
    report = preview_fhir_import(operator, json.dumps(bundle).encode(), "mixed.json")
    assert [(p.where, p.field) for p in report.problems] == [
        (f"entry {n} (Observation)", "subject")
    ]
    assert "another patient (Patient/somebody-else)" in report.problems[0].message
    assert report.to_import == ()


def test_a_metastasis_coded_icd10cm_and_snomed_keeps_its_site(
    operator: ServiceContext, make_case: Callable[..., int]
) -> None:
    bundle = _exported(make_case, operator)
    patient_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    bundle["entry"] = [
        e
        for e in bundle["entry"]
        if not (
            e["resource"]["resourceType"] == "Condition"
            and e["resource"]["code"]["coding"][0]["code"] == "128462008"
        )
    ]
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:5f0c3a52-6f63-4a0e-9f2c-1f4b7a9e0c11",
            "resource": {
                "resourceType": "Condition",
                "code": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "128462008"},
                        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C78.7"},
                    ]
                },
                "bodySite": [
                    {"coding": [{"system": "http://snomed.info/sct", "code": "10200004"}]}
                ],
                "subject": {"reference": patient_url},
            },
        }
    )
    parsed = record_from_bundle(json.dumps(bundle))
    assert parsed.problems == ()
    assert parsed.record is not None and parsed.record.case.metastatic_sites == ("liver",)


def test_an_amendment_listed_before_the_decision_it_replaces_is_ordered_by_reference() -> None:
    day = dt.date(2026, 11, 2)
    record = CaseRecord(
        patient=PatientData("CUP-9", "ORDER-1", "Ann Berg", "female", dt.date(1960, 1, 2)),
        case=CaseData("decision_recorded", "confirmed_cup", day, day),
        decisions=(
            DecisionData("empiric_platinum_taxane", "First", day, superseded=True),
            DecisionData(
                "site_specific",
                "Amended",
                day + dt.timedelta(days=3),
                presumed_primary="lung",
                amends=0,
            ),
        ),
    )
    bundle = json.loads(
        bundle_json(
            case_bundle(
                record,
                include_identifiers=True,
                generated_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            )
        )
    )
    plans = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan"]
    others = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "CarePlan"]
    bundle["entry"] = others + list(reversed(plans))  # the amendment first in the file
    parsed = record_from_bundle(json.dumps(bundle))
    assert parsed.record is not None and parsed.problems == ()
    assert [(d.rationale, d.superseded, d.amends) for d in parsed.record.decisions] == [
        ("First", True, None),
        ("Amended", False, 0),
    ]


def test_an_r4_only_resource_type_is_refused_by_name(
    operator: ServiceContext, make_case: Callable[..., int]
) -> None:
    bundle = _exported(make_case, operator)
    bundle["entry"].append({"resource": {"resourceType": "MedicinalProduct", "id": "x"}})
    n = len(bundle["entry"])
    with pytest.raises(MalformedFileError) as refused:
        preview_fhir_import(operator, json.dumps(bundle).encode(), "r4.json")
    assert str(refused.value).startswith(
        f"entry {n}: resourceType: 'MedicinalProduct' is not a FHIR R4B resource type"
    )
