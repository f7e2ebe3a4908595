"""The case finder (issue 16): any patient, open or closed, by name, number or pseudonym."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pytest
from sqlalchemy import insert, select

from cupboard.db import unit_of_work
from cupboard.errors import PermissionDeniedError
from cupboard.models import AuditEvent, Case, Patient
from cupboard.search_keys import compact_id, fold_text, patient_search_id
from cupboard.services.case_finder import CONTAINS, EXACT, STARTS_WITH, find_cases
from cupboard.services.cases import update_case
from cupboard.services.context import ServiceContext

TODAY = dt.date.today()


def _close(ctx: ServiceContext, case_id: int) -> None:
    with unit_of_work(ctx.database_url) as session:
        version = session.get(Case, case_id).version  # type: ignore[union-attr]
    update_case(ctx, case_id, version, {"status": "closed", "closing_reason": "transferred"})


def test_folding_meets_what_people_type() -> None:
    assert fold_text("Åsa  Öberg-Lindqvist") == "asa oberg lindqvist"
    assert fold_text("Søren Ærø") == "soren aero"
    assert compact_id("19580314-1234") == "195803141234"
    assert patient_search_id("19580314-1234", "CUP-00012") == "|195803141234|cup00012|"


def test_a_closed_case_is_found_by_a_prefix_of_its_personal_number(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    wanted = make_case(mrn="19580314-1234", name="Åsa Lindqvist")
    make_case(mrn="19621201-5678", name="Bertil Åberg")
    _close(contexts["navigator"], wanted)
    for typed in ("19580314", "195803141234", "19580314-1234"):
        found = find_cases(contexts["viewer"], typed)
        assert [f.case_id for f in found] == [wanted], typed
        assert found[0].closed and found[0].mrn == "19580314-1234"
    assert find_cases(contexts["navigator"], "19580314", include_closed=False) == ()


def test_names_match_without_accents_or_case(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    asa = make_case(name="Åsa Lindqvist")
    oberg = make_case(name="Per Öberg")
    ctx = contexts["oncologist"]
    assert [f.case_id for f in find_cases(ctx, "asa")] == [asa]
    assert [f.case_id for f in find_cases(ctx, "ÅSA lind")] == [asa]
    assert [f.case_id for f in find_cases(ctx, "oberg")] == [oberg]
    assert [f.name for f in find_cases(ctx, "OBERG")] == ["Per Öberg"]


def test_exact_number_then_prefix_then_contains_newest_first(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    old = dt.date.today() - dt.timedelta(days=300)
    contains = make_case(mrn="X7123", name="Anna Contains")
    prefix_old = make_case(mrn="7123-01", name="Old Prefix", referral_date=old)
    prefix_new = make_case(mrn="7123-02", name="New Prefix")
    exact = make_case(mrn="7123", name="Exact Number", referral_date=old)
    found = find_cases(contexts["navigator"], "7123")
    assert [f.case_id for f in found] == [exact, prefix_new, prefix_old, contains]
    assert [f.match for f in found] == [EXACT, STARTS_WITH, STARTS_WITH, CONTAINS]


def test_a_name_word_that_starts_with_the_term_ranks_before_one_containing_it(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    inside = make_case(name="Karin Holmberg")  # "berg" inside a word
    word = make_case(name="Lars Berglund", referral_date=TODAY - dt.timedelta(days=200))
    assert [f.case_id for f in find_cases(contexts["chair"], "berg")] == [word, inside]


def test_the_pseudonym_finds_its_case_with_or_without_the_dash(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    make_case()
    second = make_case()
    for typed in ("CUP-00002", "cup00002", "00002"):
        found = find_cases(contexts["navigator"], typed)
        assert found[0].case_id == second and found[0].pseudonym == "CUP-00002", typed


def test_de_identified_search_reads_pseudonyms_only(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    first = make_case(mrn="00001", name="Åsa Lindqvist")
    second = make_case(mrn="777", name="Bo Ek")
    ctx = contexts["chair"]
    # A name or MRN finds nothing: which pseudonym it found would tell who it is.
    assert find_cases(ctx, "asa", deidentified=True) == ()
    assert find_cases(ctx, "777", deidentified=True) == ()
    found = find_cases(ctx, "00001", deidentified=True)
    assert [f.case_id for f in found] == [first]
    assert (found[0].name, found[0].mrn, found[0].date_of_birth) == (None, None, None)
    assert [f.case_id for f in find_cases(ctx, "cup-0000", deidentified=True)] == [second, first]


def test_results_are_bounded_and_an_empty_term_finds_nothing(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    for _ in range(5):
        make_case(name="Same Name")
    assert len(find_cases(contexts["navigator"], "same", limit=3)) == 3
    assert find_cases(contexts["navigator"], "  -  ") == ()


def test_a_renamed_patient_is_found_by_the_new_name(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case(name="Maria Svensson")
    with unit_of_work(contexts["navigator"].database_url) as session:
        patient = session.scalar(select(Patient).join(Case).where(Case.id == case_id))
        assert patient is not None
        patient.name = "Maria Ångström"
    assert [f.case_id for f in find_cases(contexts["navigator"], "angstrom")] == [case_id]


def test_the_audit_keeps_the_name_not_its_folded_copy(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    make_case(name="Åsa Lindqvist")
    with unit_of_work(contexts["navigator"].database_url) as session:
        after = session.scalar(select(AuditEvent.after).where(AuditEvent.entity == "patient"))
    assert after is not None and "Åsa Lindqvist" in after and "search_" not in after


def test_only_signed_in_roles_that_read_cases_may_search(
    contexts: dict[str, ServiceContext],
) -> None:
    stranger = ServiceContext(
        contexts["viewer"].database_url,
        contexts["viewer"].actor.__class__(None, "nobody", "Nobody", "nobody"),
    )
    with pytest.raises(PermissionDeniedError):
        find_cases(stranger, "asa")


def test_ten_thousand_cases_answer_in_one_bounded_query(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    wanted = make_case(mrn="19580314-1234", name="Åsa Lindqvist")
    url = contexts["navigator"].database_url
    with unit_of_work(url) as session:
        patients = [
            {
                "pseudonym": f"BULK-{n:05d}",
                "mrn": f"B{n:07d}",
                "name": f"Bulk Patient {n}",
                "sex": "male",
                "date_of_birth": dt.date(1950, 1, 1),
                "search_name": f"bulk patient {n}",
                "search_id": f"|b{n:07d}|bulk{n:05d}|",
                "version": 1,
            }
            for n in range(10_000)
        ]
        session.execute(insert(Patient), patients)
        ids = session.scalars(select(Patient.id).where(Patient.pseudonym.like("BULK-%"))).all()
        session.execute(
            insert(Case),
            [
                {
                    "patient_id": patient_id,
                    "status": "closed" if patient_id % 3 else "workup",
                    "diagnostic_stage": "muo",
                    "pathway_start": TODAY,
                    "referral_date": TODAY,
                    "metastatic_sites": [],
                    "version": 1,
                }
                for patient_id in ids
            ],
        )
    ctx = contexts["navigator"]
    find_cases(ctx, "warm")  # the first query of a process pays for its connection
    timings = {}
    for typed in ("19580314", "asa", "patient 99", "b000"):
        started = time.perf_counter()
        found = find_cases(ctx, typed)
        timings[typed] = time.perf_counter() - started
        assert 1 <= len(found) <= 20
    assert find_cases(ctx, "19580314")[0].case_id == wanted
    assert max(timings.values()) < 0.5, timings
