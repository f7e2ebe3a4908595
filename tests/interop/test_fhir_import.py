"""FHIR import refusals: each problem names where it is; nothing is written."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.fhir import record_from_bundle
from cupboard.importing import MalformedFileError
from cupboard.models import AuditEvent, Case, EcogObservation, Patient
from cupboard.services.context import ServiceContext
from cupboard.services.interop import (
    commit_fhir_import,
    export_case_fhir,
    preview_fhir_import,
)
from cupboard.services.performance import record_ecog


def _counts(url: str) -> tuple[int, ...]:
    with unit_of_work(url) as session:
        return tuple(
            session.scalar(select(func.count(model.id))) or 0
            for model in (Patient, Case, EcogObservation, AuditEvent)
        )


def _bundle(
    operator: ServiceContext, make_case: Callable[..., int], contexts: dict[str, ServiceContext]
) -> dict[str, Any]:
    case_id = make_case(mrn="ORIGINAL")
    record_ecog(contexts["navigator"], case_id, score=2, observed_on=dt.date.today())
    content = export_case_fhir(operator, case_id, include_identifiers=True).content
    data: dict[str, Any] = json.loads(content.replace(b'"ORIGINAL"', b'"ELSEWHERE"'))
    return data


def _entry(data: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]) -> tuple[int, Any]:
    for n, entry in enumerate(data["entry"], start=1):
        if predicate(entry["resource"]):
            return n, entry["resource"]
    raise AssertionError("no such resource")


def _is_ecog(resource: dict[str, Any]) -> bool:
    return resource["resourceType"] == "Observation" and resource["code"]["coding"][0]["code"] == (
        "89247-1"
    )


def test_a_bad_value_is_refused_with_its_entry_and_nothing_is_written(
    operator: ServiceContext,
    make_case: Callable[..., int],
    contexts: dict[str, ServiceContext],
    database_url: str,
) -> None:
    data = _bundle(operator, make_case, contexts)
    n, ecog = _entry(data, _is_ecog)
    ecog["valueInteger"] = 7
    m, investigation = _entry(
        data,
        lambda r: (
            r["resourceType"] == "ServiceRequest" and r["code"]["coding"][0]["code"] == "ct_cap"
        ),
    )
    investigation["code"]["coding"][0]["code"] = "x_ray_of_everything"
    content = json.dumps(data).encode()
    before = _counts(database_url)
    report = preview_fhir_import(operator, content, "bad.json")
    assert [str(p) for p in report.problems] == [
        f"entry {m} (ServiceRequest): code: unknown investigation 'x_ray_of_everything'",
        f"entry {n} (Observation): ecog: must be between 0 and 5; got 7",
    ]
    assert report.to_import == ()
    result = commit_fhir_import(operator, content, "bad.json")
    assert result.created_case_ids == () and len(result.problems) == 2
    assert _counts(database_url) == before


def test_structural_problems(operator: ServiceContext) -> None:
    with pytest.raises(MalformedFileError, match="is not valid JSON"):
        preview_fhir_import(operator, b"{not json", "x.json")
    with pytest.raises(MalformedFileError, match="must be Bundle; got 'Patient'"):
        preview_fhir_import(operator, b'{"resourceType": "Patient"}', "x.json")
    two = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "gender": "male"}},
            {"resource": {"resourceType": "Patient", "gender": "female"}},
        ],
    }
    # A bundle refused as a whole is one message (the command line's exit 2), not a
    # report of refused rows.
    with pytest.raises(MalformedFileError) as refused:
        preview_fhir_import(operator, json.dumps(two).encode(), "two.json")
    assert str(refused.value) == (
        "bundle: Patient: one Patient is needed (one case per bundle); found 2"
    )
    invalid = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Observation", "status": "final"}}],
    }
    with pytest.raises(MalformedFileError) as refused:
        preview_fhir_import(operator, json.dumps(invalid).encode(), "invalid.json")
    assert str(refused.value) == "bundle: entry.0.resource.code: Field required"


def _bundle_of(make_case: Callable[..., int], operator: ServiceContext) -> dict[str, Any]:
    case_id = make_case(mrn="ENTRY-1")
    content = export_case_fhir(operator, case_id, include_identifiers=True).content
    bundle: dict[str, Any] = json.loads(content)
    return bundle


@pytest.mark.parametrize("kind", ["transaction", "batch", "searchset", "document"])
def test_a_patient_published_as_any_bundle_of_one_record_is_read(
    operator: ServiceContext, make_case: Callable[..., int], kind: str
) -> None:
    """Synthea publishes transactions and IPS documents (issue 17): their resources are
    read as data, and no request in them is carried out."""
    bundle = _bundle_of(make_case, operator)
    bundle["type"] = kind
    report = preview_fhir_import(operator, json.dumps(bundle).encode(), "t.json")
    assert report.problems == () and [i.mrn for i in report.already_exist] == ["ENTRY-1"]


@pytest.mark.parametrize("kind", ["history", None])
def test_a_bundle_that_is_not_one_record_is_refused(
    operator: ServiceContext, make_case: Callable[..., int], kind: str | None
) -> None:
    bundle = _bundle_of(make_case, operator)
    bundle["type"] = kind
    with pytest.raises(MalformedFileError, match=f"type: must be one of .*got {kind!r}"):
        preview_fhir_import(operator, json.dumps(bundle).encode(), "t.json")


def test_entries_without_a_resource_or_of_other_types_are_listed_not_imported(
    operator: ServiceContext, make_case: Callable[..., int]
) -> None:
    """Nothing is dropped without a line in the report (issue 17)."""
    bundle = _bundle_of(make_case, operator)
    bundle["entry"].append({"fullUrl": "urn:uuid:empty"})
    bundle["entry"].append({"resource": {"resourceType": "Basic", "code": {"text": "anything"}}})
    n = len(bundle["entry"])
    report = preview_fhir_import(operator, json.dumps(bundle).encode(), "e.json")
    assert report.problems == ()
    assert f"entry {n - 1}: not imported: it holds no resource" in report.notes
    assert f"entry {n} (Basic): not imported: a case in cupboard keeps no Basic" in report.notes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels"),
        (b'{"resourceType": "Bundle", "total": ' + b"9" * 5000 + b"}", "5000 digits"),
        (b'{"resourceType": "Bundle", "total": NaN}', "NaN is not a JSON number"),
        (b'{"resourceType": "Bundle", "total": 1e999}', "out of range"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
    ],
    ids=["deep", "huge-integer", "nan", "huge-float", "not-utf8"],
)
def test_json_beyond_the_parser_limits_is_one_plain_refusal(
    operator: ServiceContext, content: bytes, message: str
) -> None:
    with pytest.raises(MalformedFileError, match=message):
        preview_fhir_import(operator, content, "x.json")


def test_a_deeply_nested_resource_is_refused_not_a_crash(operator: ServiceContext) -> None:
    nested = '{"url": "a", "extension": [' * 300 + "]}" * 300
    content = (
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        '{"resourceType": "Patient", "extension": [' + nested + "]}}]}"
    ).encode()
    with pytest.raises(MalformedFileError, match="nested more than 64 levels"):
        preview_fhir_import(operator, content, "x.json")


def test_a_minimal_bundle_from_elsewhere_imports(
    operator: ServiceContext, database_url: str
) -> None:
    """Patient (MRN by identifier type), a referral and a metastasis coded in ICD-10."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:p",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [
                        {
                            "type": {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                        "code": "MR",
                                    }
                                ]
                            },
                            "system": "urn:oid:1.2.3",
                            "value": "EXT-77",
                        }
                    ],
                    "name": [{"family": "Andersson", "given": ["Eva"]}],
                    "gender": "female",
                    "birthDate": "1957-06-01",
                },
            },
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "completed",
                    "intent": "order",
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]},
                    "subject": {"reference": "urn:uuid:p"},
                    "authoredOn": (dt.date.today() - dt.timedelta(days=4)).isoformat(),
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "code": {
                        "coding": [
                            {"system": "http://snomed.info/sct", "code": "128462008"},
                            {"system": "http://hl7.org/fhir/sid/icd-10", "code": "C78.7"},
                        ]
                    },
                    "subject": {"reference": "urn:uuid:p"},
                }
            },
        ],
    }
    content = json.dumps(bundle).encode()
    report = preview_fhir_import(operator, content, "external.json")
    assert report.problems == ()
    assert [(i.mrn, i.name) for i in report.to_import] == [("EXT-77", "Eva Andersson")]
    assert report.notes  # says where the case starts (no EpisodeOfCare)
    (case_id,) = commit_fhir_import(operator, content, "external.json").created_case_ids
    with unit_of_work(database_url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.diagnostic_stage, case.metastatic_sites) == (
            "referred",
            "muo",
            ["liver"],
        )
        events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id)).all()
        assert {e.reason for e in events} == {"imported from external.json"}
        assert events[0].actor_username == "cli"


def test_pseudonymised_bundle_parses_but_cannot_be_imported(
    operator: ServiceContext, make_case: Callable[..., int]
) -> None:
    case_id = make_case(mrn="P-1", date_of_birth=dt.date(1950, 3, 4))
    parsed = record_from_bundle(export_case_fhir(operator, case_id).content)
    assert parsed.record is not None
    assert parsed.record.patient.mrn is None and parsed.record.patient.birth_year == 1950
    report = preview_fhir_import(operator, export_case_fhir(operator, case_id).content, "p.json")
    assert [p.field for p in report.problems] == ["mrn", "date_of_birth"]
