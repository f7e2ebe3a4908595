"""Referral CSV import: a report first, nothing written until confirmed, no duplicates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.errors import PermissionDeniedError
from cupboard.importing import MalformedFileError, read_referral_csv
from cupboard.knowledge.investigations import INVESTIGATIONS
from cupboard.models import AuditEvent, Case, Investigation, Patient
from cupboard.services.context import ServiceContext
from cupboard.services.interop import commit_referral_import, preview_referral_import

TODAY = dt.date.today()
RECENT = (TODAY - dt.timedelta(days=3)).isoformat()
HEADER = "mrn,name,sex,date_of_birth,referral_date,metastatic_sites,lesion_count,presentation"

BROKEN_FILE = "\n".join(
    [
        HEADER,  # line 1
        f"NEW-1,Anna Exempel,female,1961-02-03,{RECENT},liver; bone,3,liver lesions",  # 2 ok
        f"NEW-2,Bo Sample,,1955-05-05,{RECENT},liver,,",  # 3: no sex
        f"NEW-3,Old Person,male,{TODAY.year - 200}-01-01,{RECENT},bone,,",  # 4: 200 y
        f"NEW-4,Cara Prov,female,1970-01-01,{RECENT},pancreas head,,",  # 5: unknown site
        "NEW-5,Dan Mall,male,1960-01-01,03/11/2026,lung,,",  # 6: bad date
        f"TWICE,Eva Twin,female,1950-01-01,{RECENT},liver,,",  # 7: duplicate MRN
        f"TWICE,Eve Twin,female,1950-01-01,{RECENT},liver,,",  # 8: duplicate MRN
        f"EXISTING-1,Already Here,male,1949-09-09,{RECENT},liver,,",  # 9: in the database
        f'NEW-6,Finn Fiktiv,male,1958-08-08,{RECENT},"adrenal | lung",1,"two lines',  # 10 ok
        'of presentation"',  # (still line 10's record)
        f"NEW-7,Gun Test,female,1952-12-12,{RECENT},axillary nodes,x,",  # 12: bad count
    ]
).encode()

EXPECTED_PROBLEMS = {
    3: ("sex", "is required"),
    4: ("date_of_birth", "gives an age of 200 years"),
    5: ("metastatic_sites", "unknown site 'pancreas head'"),
    6: ("referral_date", "must be a date YYYY-MM-DD; got '03/11/2026'"),
    7: ("mrn", "TWICE appears more than once in this file (lines 7, 8)"),
    8: ("mrn", "TWICE appears more than once in this file (lines 7, 8)"),
    12: ("lesion_count", "must be a whole number; got 'x'"),
}


def _counts(url: str) -> dict[str, int]:
    with unit_of_work(url) as session:
        return {
            model.__tablename__: session.scalar(select(func.count(model.id))) or 0
            for model in (Patient, Case, Investigation, AuditEvent)
        }


@pytest.fixture
def navigator(contexts: dict[str, ServiceContext], make_case: Callable[..., int]) -> ServiceContext:
    # The same patient as line 9 of the file (an MRN naming someone else is refused).
    make_case(mrn="EXISTING-1", name="Already Here", sex="male", date_of_birth=dt.date(1949, 9, 9))
    return contexts["navigator"]


def test_report_names_each_bad_row_and_writes_nothing(navigator: ServiceContext) -> None:
    before = _counts(navigator.database_url)
    report = preview_referral_import(navigator, BROKEN_FILE, "referrals.csv")
    assert _counts(navigator.database_url) == before
    problems = {int(p.where.removeprefix("line ")): (p.field, p.message) for p in report.problems}
    assert problems.keys() == EXPECTED_PROBLEMS.keys()
    for line, (field, reason) in EXPECTED_PROBLEMS.items():
        assert problems[line][0] == field, line
        assert reason in problems[line][1], (line, problems[line])
    assert [(i.where, i.mrn) for i in report.already_exist] == [("line 9", "EXISTING-1")]
    assert [(i.where, i.mrn) for i in report.to_import] == [
        ("line 2", "NEW-1"),
        ("line 10", "NEW-6"),
    ]
    assert str(report.problems[0]) == "line 3: sex: is required"


def test_confirmed_import_writes_the_valid_rows_once(navigator: ServiceContext) -> None:
    url = navigator.database_url
    before = _counts(url)
    result = commit_referral_import(navigator, BROKEN_FILE, "referrals.csv")
    assert len(result.created_case_ids) == 2
    assert [i.mrn for i in result.already_exist] == ["EXISTING-1"]
    assert len(result.problems) == len(EXPECTED_PROBLEMS)
    after = _counts(url)
    assert after["patients"] == before["patients"] + 2
    assert after["cases"] == before["cases"] + 2
    assert after["investigations"] == before["investigations"] + 2 * len(INVESTIGATIONS)
    with unit_of_work(url) as session:
        anna = session.scalar(select(Patient).where(Patient.mrn == "NEW-1"))
        finn = session.scalar(select(Patient).where(Patient.mrn == "NEW-6"))
        assert anna is not None and finn is not None
        assert (anna.name, anna.sex, anna.date_of_birth) == (
            "Anna Exempel",
            "female",
            dt.date(1961, 2, 3),
        )
        case = session.scalar(select(Case).where(Case.patient_id == finn.id))
        assert case is not None
        assert case.metastatic_sites == ["adrenal", "lung"]
        assert case.presentation == "two lines\nof presentation"
        assert case.status == "referred" and case.referral_date.isoformat() == RECENT
        created = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "create", AuditEvent.entity == "patient")
        ).all()
        reasons = sorted(e.reason or "" for e in created if e.entity_id in (anna.id, finn.id))
        assert reasons == [
            "imported from referrals.csv line 10",
            "imported from referrals.csv line 2",
        ]
        summary = session.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        assert summary is not None and summary.actor_username == "test-navigator"
        assert "2 to import, 1 already exist (skipped), 7 refused" in (summary.reason or "")

    again = commit_referral_import(navigator, BROKEN_FILE, "referrals.csv")
    assert again.created_case_ids == ()
    assert sorted(i.mrn for i in again.already_exist) == ["EXISTING-1", "NEW-1", "NEW-6"]
    counts = _counts(url)
    assert {k: counts[k] for k in ("patients", "cases", "investigations")} == {
        k: after[k] for k in ("patients", "cases", "investigations")
    }


def test_preview_after_import_reports_already_exists(navigator: ServiceContext) -> None:
    commit_referral_import(navigator, BROKEN_FILE, "referrals.csv")
    report = preview_referral_import(navigator, BROKEN_FILE, "referrals.csv")
    assert report.to_import == ()
    assert report.summary == "0 to import, 3 already exist (skipped), 7 refused"


@pytest.mark.parametrize("role", ["viewer", "pathologist", "oncologist"])
def test_only_importing_roles_may_import(
    contexts: dict[str, ServiceContext], role: str, database_url: str
) -> None:
    before = _counts(database_url)
    with pytest.raises(PermissionDeniedError):
        commit_referral_import(contexts[role], BROKEN_FILE, "referrals.csv")
    # Nothing imported; the refusal itself is audited.
    assert _counts(database_url) == {**before, "audit_events": before["audit_events"] + 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file: is empty"),
        (b"mrn,name\nA,B\n", "missing required column(s) sex, date_of_birth"),
        (f"{HEADER},shoe_size\n".encode(), "unknown column 'shoe_size'"),
        (f"{HEADER}\n".encode(), "has a header but no referral rows"),
        (
            "mrn,name,sex,date_of_birth,referral_date\nÅ,Ö,f,1950-01-01,2020-01-01\n".encode(
                "latin-1"
            ),
            "is not UTF-8",
        ),
        (b"mrn,mrn,name,sex,date_of_birth,referral_date\n", "'mrn' appears more than once"),
    ],
)
def test_malformed_files_are_refused_as_a_whole(content: bytes, message: str) -> None:
    with pytest.raises(MalformedFileError) as refused:
        read_referral_csv(content, TODAY)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_spreadsheet_semicolon_files_and_aliases_are_read() -> None:
    content = (
        "\ufeffMRN;Name;Sex;Date of birth;Referral date;Metastatic sites\n"
        f'S-1;Sam Semi;M;1960-01-01;{RECENT};"Cervical lymph nodes;bone"\n'
    ).encode()
    checked = read_referral_csv(content, TODAY)
    assert checked.problems == ()
    (row,) = checked.rows
    assert row.line == 2
    assert row.referral.sex == "male"
    assert row.referral.metastatic_sites == ("cervical_nodes", "bone")


def test_a_row_with_too_many_values_is_refused_by_line() -> None:
    content = f"{HEADER}\nA,B,female,1950-01-01,{RECENT},liver,1,x,EXTRA\n".encode()
    checked = read_referral_csv(content, TODAY)
    assert [str(p) for p in checked.problems] == [
        "line 2: row: has 9 values but the header has 8 columns"
    ]


def test_future_referral_date_is_refused() -> None:
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    content = f"{HEADER}\nA,B,female,1950-01-01,{tomorrow},liver,,\n".encode()
    (problem,) = read_referral_csv(content, TODAY).problems
    assert problem.field == "referral_date" and "must not be after" in problem.message


@pytest.mark.parametrize("birth", ["1958-03-14 00:00:00", "1958-03-14T00:00:00", "1958-03-14"])
def test_a_date_as_a_spreadsheet_saves_it_is_read(birth: str) -> None:
    """Excel and LibreOffice write a date cell as the day at midnight (issue 17)."""
    content = f"{HEADER}\nSHEET-1,Ada Ark,female,{birth},{RECENT} 00:00:00,liver,,\n".encode()
    checked = read_referral_csv(content, TODAY)
    assert checked.problems == ()
    (row,) = checked.rows
    assert (row.referral.date_of_birth, row.referral.referral_date) == ("1958-03-14", RECENT)


@pytest.mark.parametrize("birth", ["1958-W11-5", "1958-073", "19580314", "1958-03-14 09:30:00"])
def test_week_ordinal_and_compact_dates_are_refused(birth: str) -> None:
    content = f"{HEADER}\nWEEK-1,Ada Ark,female,{birth},{RECENT},liver,,\n".encode()
    (problem,) = read_referral_csv(content, TODAY).problems
    assert (problem.field, problem.message) == (
        "date_of_birth",
        f"must be a date YYYY-MM-DD; got '{birth}'",
    )


def test_a_large_file_is_written_in_batches_that_let_another_user_save(
    navigator: ServiceContext, contexts: dict[str, ServiceContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch is its own short transaction (issue 17): between batches another
    user's referral is saved, and every created record still has its own audit row."""
    import cupboard.services.interop as interop
    from cupboard.services.cases import Referral, register_referral

    monkeypatch.setattr(interop, "REFERRAL_BATCH_ROWS", 2)
    batches: list[int] = []
    original = interop.ReferralFile

    def between_batches(*args: object) -> object:
        batches.append(len(batches))
        if len(batches) == 2:  # the first batch is committed: the lock is free
            register_referral(
                contexts["oncologist"],
                Referral(
                    mrn="BY-HAND-1",
                    name="Saved Meanwhile",
                    sex="female",
                    date_of_birth=dt.date(1950, 1, 1),
                    referral_date=TODAY,
                    metastatic_sites=("lung",),
                ),
            )
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(interop, "ReferralFile", between_batches)
    rows = "\n".join(
        f"BATCH-{n},Batch Person {n},female,1960-01-0{n + 1},{RECENT},liver" for n in range(5)
    )
    content = f"mrn,name,sex,date_of_birth,referral_date,metastatic_sites\n{rows}\n".encode()
    result = commit_referral_import(navigator, content, "batches.csv")
    assert len(result.created_case_ids) == 5 and result.problems == ()
    assert len(batches) == 3
    with unit_of_work(navigator.database_url) as session:
        mrns = set(session.scalars(select(Patient.mrn)))
        assert {"BY-HAND-1", *(f"BATCH-{n}" for n in range(5))} <= mrns
        for entity, model in (
            ("patient", Patient),
            ("case", Case),
            ("investigation", Investigation),
        ):
            rows_created = session.scalar(select(func.count(model.id)))
            audited = session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.entity == entity, AuditEvent.action == "create"
                )
            )
            assert audited == rows_created, entity
