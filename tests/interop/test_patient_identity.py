"""An MRN means one patient (issue 17): a number another hospital gave a different
person is refused naming both, and one number written differently (case, Unicode
normalisation, an invisible character, a personal number with or without its hyphen)
is matched, not made into a second patient."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.models import Patient
from cupboard.services.cases import Referral, register_referral
from cupboard.services.context import ServiceContext
from cupboard.services.interop import (
    commit_fhir_import,
    commit_referral_import,
    export_case_fhir,
    preview_fhir_import,
    preview_referral_import,
)

TODAY = dt.date.today()
RECENT = (TODAY - dt.timedelta(days=3)).isoformat()
HEADER = "mrn,name,sex,date_of_birth,referral_date,metastatic_sites"


def _patients(url: str) -> int:
    with unit_of_work(url) as session:
        return session.scalar(select(func.count(Patient.id))) or 0


def _other_hospitals_bundle(
    operator: ServiceContext, second_database_url: str, **who: Any
) -> bytes:
    """A bundle from another site (its own identifier system) for the patient ``who``."""
    sender = ServiceContext(second_database_url, operator.actor)
    case_id = _register(sender, **who)
    bundle = json.loads(export_case_fhir(sender, case_id, include_identifiers=True).content)
    for entry in bundle["entry"]:
        for identifier in entry["resource"].get("identifier", []):
            identifier["system"] = identifier["system"].replace(
                "http://cupboard.example.org/fhir", "https://fhir.other-hospital.example"
            )
    return json.dumps(bundle).encode()


def _register(ctx: ServiceContext, **who: Any) -> int:
    referral = Referral(
        sex="female",
        referral_date=TODAY - dt.timedelta(days=5),
        metastatic_sites=("liver",),
        **who,
    )
    return register_referral(ctx, referral)


def test_another_patients_mrn_from_another_hospital_is_refused_naming_both(
    operator: ServiceContext,
    make_case: Callable[..., int],
    database_url: str,
    second_database_url: str,
) -> None:
    make_case(mrn="4711", name="Anna Berg", date_of_birth=dt.date(1960, 5, 17))
    content = _other_hospitals_bundle(
        operator,
        second_database_url,
        mrn="4711",
        name="Bo Ek",
        date_of_birth=dt.date(1944, 1, 2),
    )
    report = preview_fhir_import(operator, content, "other.json")
    assert report.to_import == () and report.already_exist == ()
    (problem,) = report.problems
    assert problem.field == "mrn"
    assert "Anna Berg (born 1960-05-17" in problem.message
    assert "this record is Bo Ek (born 1944-01-02)" in problem.message
    result = commit_fhir_import(operator, content, "other.json")
    assert result.created_case_ids == () and result.problems == (problem,)
    assert _patients(database_url) == 1


def test_the_same_patient_with_the_mrn_written_otherwise_is_matched(
    operator: ServiceContext,
    make_case: Callable[..., int],
    database_url: str,
    second_database_url: str,
) -> None:
    make_case(mrn="19580314-1234", name="Åsa Öberg", date_of_birth=dt.date(1958, 3, 14))
    content = _other_hospitals_bundle(
        operator,
        second_database_url,
        mrn="195803141234",
        name="Öberg Åsa",
        date_of_birth=dt.date(1958, 3, 14),
    )
    report = preview_fhir_import(operator, content, "same.json")
    assert report.problems == () and [i.mrn for i in report.already_exist] == ["195803141234"]
    assert commit_fhir_import(operator, content, "same.json").created_case_ids == ()
    assert _patients(database_url) == 1


@pytest.mark.parametrize(
    "written",
    [
        unicodedata.normalize("NFD", "ÅB-77"),  # decomposed Å
        "åb-77",  # case
        "ÅB-\u200b77",  # a zero-width space pasted with it
        "ÅB77",  # without the separator
    ],
    ids=["nfd", "case", "zero-width", "no-hyphen"],
)
def test_a_referral_csv_matches_an_mrn_written_otherwise(
    operator: ServiceContext, make_case: Callable[..., int], database_url: str, written: str
) -> None:
    make_case(mrn="ÅB-77", name="Cilla Dahl", date_of_birth=dt.date(1950, 1, 1))
    content = f"{HEADER}\n{written},Cilla Dahl,female,1950-01-01,{RECENT},liver\n".encode()
    report = preview_referral_import(operator, content, "r.csv")
    assert report.problems == () and report.to_import == ()
    assert len(report.already_exist) == 1
    # The confirmed import agrees with the dry run (no false "another user" conflict).
    result = commit_referral_import(operator, content, "r.csv")
    assert result.created_case_ids == () and len(result.already_exist) == 1
    assert _patients(database_url) == 1


def test_one_number_twice_in_a_file_however_written_is_refused_on_both_lines(
    operator: ServiceContext,
) -> None:
    content = (
        f"{HEADER}\n19580314-1234,Eva Lund,female,1958-03-14,{RECENT},liver\n"
        f"195803141234,Eva Lund,female,1958-03-14,{RECENT},liver\n"
    ).encode()
    report = preview_referral_import(operator, content, "twice.csv")
    assert [(p.where, p.field) for p in report.problems] == [
        ("line 2", "mrn"),
        ("line 3", "mrn"),
    ]
    assert report.to_import == ()


def test_a_referral_csv_row_naming_someone_else_under_a_known_mrn_is_refused(
    operator: ServiceContext, make_case: Callable[..., int]
) -> None:
    make_case(mrn="K-1", name="Gun Holm", date_of_birth=dt.date(1940, 2, 2))
    content = f"{HEADER}\nk1,Hans Holm,male,1941-03-03,{RECENT},liver\n".encode()
    report = preview_referral_import(operator, content, "clash.csv")
    (problem,) = report.problems
    assert problem.where == "line 2" and "Gun Holm" in problem.message
    assert "Hans Holm" in problem.message
