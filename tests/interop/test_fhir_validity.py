"""Exported bundles as a validating FHIR server and an mCODE/US Core receiver see them.

fhir.resources accepted every bundle while a validator that checks the R4 invariants
refused every one with an MDT decision (``rqg-1``); these tests run such a validator
(tests/interop/r4_validator.py) over the bundles of a 200-case demo cohort, and check the
profile rules cupboard claims.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.knowledge import fhir_codes as fc
from cupboard.models import Case
from cupboard.services.context import ServiceContext
from cupboard.services.interop import CLI_ACTOR, export_case_fhir
from db.demo_cohort import seed_demo_cohort
from tests.interop.r4_validator import validate

MCODE = "http://hl7.org/fhir/us/mcode/"


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == rtype
    ]


def _profiles(bundle: dict[str, Any]) -> list[str]:
    return [p for e in bundle["entry"] for p in e["resource"].get("meta", {}).get("profile", [])]


def test_the_validator_refuses_a_recommendation_without_a_request(tmp_path: Path) -> None:
    """The check can fail: the shape every decision had before is refused (rqg-1)."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:5b0b9d1e-52a4-4b8e-9a51-1d1f0d7c1e01",
                "resource": {
                    "resourceType": "RequestGroup",
                    "status": "active",
                    "intent": "proposal",
                    "action": [{"title": "Systemic therapy"}],
                },
            }
        ],
    }
    path = tmp_path / "old-decision.json"
    path.write_text(json.dumps(bundle))
    errors = validate([path])[str(path)]
    assert any("rqg-1" in e["details"] for e in errors), errors


@pytest.fixture
def demo_200(sqlite_template: Path, tmp_path: Path) -> tuple[str, list[int]]:
    """A 200-case demo cohort (SQLite: the bundle does not depend on the backend)."""
    path = tmp_path / "demo200.sqlite3"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    seed_demo_cohort(url, cases=200, today=dt.date.today() - dt.timedelta(days=7))
    with unit_of_work(url) as session:
        return url, list(session.scalars(select(Case.id).order_by(Case.id)))


def test_every_bundle_of_a_200_case_cohort_passes_the_r4_invariants_and_claimed_profiles(
    demo_200: tuple[str, list[int]], tmp_path: Path
) -> None:
    url, case_ids = demo_200
    operator = ServiceContext(url, CLI_ACTOR)
    paths: list[Path] = []
    decisions = found_primaries = 0
    for case_id in case_ids:
        for identified in (True, False):
            content = export_case_fhir(operator, case_id, include_identifiers=identified).content
            path = tmp_path / f"case-{case_id}-{'id' if identified else 'pseudo'}.json"
            path.write_bytes(content)
            paths.append(path)
            bundle = json.loads(content)
            decisions += len(_resources(bundle, "RequestGroup"))
            _check_profiles(bundle, identified)
            found_primaries += _check_codes(bundle)
    # Not vacuous: the cohort has decisions (the resources rqg-1 used to refuse).
    assert decisions > 100 and found_primaries > 0
    errors = {name: issues for name, issues in validate(paths).items() if issues}
    assert errors == {}, json.dumps(dict(list(errors.items())[:3]), indent=1)


def _check_profiles(bundle: dict[str, Any], identified: bool) -> None:
    (patient,) = _resources(bundle, "Patient")
    if not identified:
        # A pseudonymised patient has no name: it cannot be an mCODE Cancer Patient,
        # and the other mCODE profiles are about one.
        assert not [p for p in _profiles(bundle) if p.startswith(MCODE)]
        assert "name" not in patient
        return
    assert patient["meta"]["profile"] == [fc.PROFILE_CANCER_PATIENT]
    # US Core us-core-6: a name has a family or a given name, not only text.
    assert all(name.get("family") or name.get("given") for name in patient["name"])
    assert patient["gender"] and patient["identifier"][0]["type"]["coding"][0]["code"] == "MR"


def _check_codes(bundle: dict[str, Any]) -> int:
    found = 0
    text = json.dumps(bundle)
    assert "icd-10-cm" not in text
    for condition in _resources(bundle, "Condition"):
        systems = {c["system"] for c in condition["code"]["coding"]}
        snomed_code = condition["code"]["coding"][0]["code"]
        sites = condition["bodySite"][0]["coding"]
        if snomed_code == "128462008":  # secondary: SNOMED body structure, local code kept
            local = next(c["code"] for c in sites if c["system"] == fc.CS_METASTATIC_SITE)
            if local != "other":
                assert sites[0]["system"] == fc.SNOMED, sites
                assert sites[0]["code"] == fc.METASTATIC_SITE_CODES[local].body_structure.code
        elif fc.ICD10 in systems:  # CUP or MUO: WHO ICD-10 under its exact system URI
            icd10 = next(c for c in condition["code"]["coding"] if c["system"] == fc.ICD10)
            assert fc.ICD10 == "http://hl7.org/fhir/sid/icd-10"
            assert (icd10["code"], icd10["display"]) in {
                ("C80.0", "Malignant neoplasm, primary site unknown, so stated"),
                ("C80.9", "Malignant neoplasm, primary site unspecified"),
            }
        else:  # a primary found: its organ in SNOMED CT where it is an organ
            local = next(c["code"] for c in sites if c["system"] == fc.CS_PRIMARY_SITE)
            structure = fc.PRIMARY_SITE_BODY_STRUCTURES.get(local)
            if structure is not None:
                assert sites[0] == {
                    "system": fc.SNOMED,
                    "code": structure.code,
                    "display": structure.display,
                }
                found += 1
    return found


def _ids(content: bytes) -> set[str]:
    bundle = json.loads(content)
    found = {bundle["identifier"]["value"]}
    for entry in bundle["entry"]:
        found |= {entry["fullUrl"].removeprefix("urn:uuid:"), entry["resource"]["id"]}
    return found


def test_two_exports_of_one_case_share_no_id(operator: ServiceContext, make_case: Any) -> None:
    """Deterministic ids let a pseudonymised export be linked to the identified one."""
    case_id = make_case(mrn="LINK-1", name="Karin Lind")
    pseudonymised = export_case_fhir(operator, case_id).content
    identified = export_case_fhir(operator, case_id, include_identifiers=True).content
    again = export_case_fhir(operator, case_id).content
    assert _ids(pseudonymised) and not _ids(pseudonymised) & _ids(identified)
    assert not _ids(pseudonymised) & _ids(again)


def test_identifier_systems_name_the_site_from_cupboard_fhir_base(
    operator: ServiceContext, make_case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = make_case(mrn="SITE-1", name="Nils Berg")
    monkeypatch.setenv("CUPBOARD_FHIR_BASE", "https://fhir.karolinska.example/")
    bundle = json.loads(export_case_fhir(operator, case_id, include_identifiers=True).content)
    (patient,) = _resources(bundle, "Patient")
    systems = {i["value"]: i["system"] for i in patient["identifier"]}
    assert systems["SITE-1"] == "https://fhir.karolinska.example/sid/mrn"
    assert set(systems.values()) == {
        "https://fhir.karolinska.example/sid/mrn",
        "https://fhir.karolinska.example/sid/pseudonym",
    }
    assert bundle["identifier"]["system"] == "https://fhir.karolinska.example/sid/bundle"
