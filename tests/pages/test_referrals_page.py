"""The referrals page: the form registers a referral; imports report before they write."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.models import AuditEvent, Case, Patient
from cupboard.services.context import ServiceContext
from cupboard.services.interop import export_case_fhir

PAGE = "pages/referrals.py"
RECENT = (dt.date.today() - dt.timedelta(days=1)).isoformat()


def _plain(markdown: str) -> str:
    """Message text as the user reads it (the page escapes markdown in user text)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _errors(app: Any) -> list[str]:
    return [_plain(e.value) for e in app.error]


def _table(app: Any, *columns: str) -> Any:
    """The (last) table on the page with exactly these columns."""
    tables = [d.value for d in app.dataframe if list(d.value.columns) == list(columns)]
    assert tables, [list(d.value.columns) for d in app.dataframe]
    return tables[-1]


def _counts(url: str) -> tuple[int, int, int]:
    with unit_of_work(url) as session:
        return (
            session.scalar(select(func.count(Patient.id))) or 0,
            session.scalar(select(func.count(Case.id))) or 0,
            session.scalar(select(func.count(AuditEvent.id))) or 0,
        )


def _button(app: Any, label: str) -> Any:
    matches = [b for b in app.button if _plain(b.label) == label]
    assert matches, [b.label for b in app.button]
    return matches[0]


def _fill_form(app: Any, **values: Any) -> None:
    app.text_input(key="ref_mrn").input(values.get("mrn", "PAGE-1"))
    app.text_input(key="ref_name").input(values.get("name", "Page Person"))
    app.selectbox(key="ref_sex").set_value(values.get("sex", "female"))
    app.date_input(key="ref_dob").set_value(values.get("dob", dt.date(1961, 4, 5)))
    app.text_input(key="ref_phone").input(values.get("phone", "+46 8 123 45"))
    app.multiselect(key="ref_sites").set_value(["liver", "bone"])


def test_form_registers_a_referral(open_page: Callable[..., Any], database_url: str) -> None:
    app = open_page(PAGE, role="navigator")
    assert not app.exception
    assert [t.value for t in app.title] == ["Referrals & import"]
    _fill_form(app)
    _button(app, "Register referral").click().run()
    assert not app.exception
    assert not app.error, _errors(app)
    assert [s.value for s in app.success] == ["Referral registered: case 1."]
    with unit_of_work(database_url) as session:
        patient = session.scalar(select(Patient).where(Patient.mrn == "PAGE-1"))
        assert patient is not None
        assert (patient.name, patient.sex, patient.date_of_birth) == (
            "Page Person",
            "female",
            dt.date(1961, 4, 5),
        )
        case = session.scalar(select(Case).where(Case.patient_id == patient.id))
        assert case is not None and case.metastatic_sites == ["liver", "bone"]
        creator = session.scalar(
            select(AuditEvent.actor_username).where(
                AuditEvent.entity == "patient", AuditEvent.entity_id == patient.id
            )
        )
    assert creator == "test-navigator"


def test_form_refuses_a_bad_value_and_writes_nothing(
    open_page: Callable[..., Any], database_url: str, make_case: Callable[..., int]
) -> None:
    make_case(mrn="TAKEN-1")
    before = _counts(database_url)
    app = open_page(PAGE, role="navigator")
    _fill_form(app, phone="call me maybe")
    _button(app, "Register referral").click().run()
    assert _errors(app) == ["phone: is not a phone number: 'call me maybe'"]
    assert not app.success
    assert _counts(database_url) == before

    _fill_form(app, sex=None, phone="")
    _button(app, "Register referral").click().run()
    assert _errors(app) == ["sex: must be one of female, male; got None"]

    _fill_form(app, mrn="TAKEN-1", phone="")
    _button(app, "Register referral").click().run()
    assert _errors(app) == ["mrn: a patient with MRN TAKEN-1 already exists"]
    assert _counts(database_url) == before


CSV = (
    "mrn,name,sex,date_of_birth,referral_date,metastatic_sites\n"
    f"UP-1,Ulla Upload,female,1962-02-02,{RECENT},liver\n"
    f"UP-2,Uno Upload,,1963-03-03,{RECENT},bone\n"
    f"UP-3,Una Upload,female,1964-04-04,{RECENT},mars\n"
    f"UP-4,Ugo Upload,male,1965-05-05,{RECENT},lung\n"
).encode()


def test_csv_upload_shows_the_report_then_imports_on_confirm(
    open_page: Callable[..., Any], database_url: str
) -> None:
    before = _counts(database_url)
    app = open_page(PAGE, role="navigator")
    app.file_uploader(key="referral_csv").set_value(("referrals.csv", CSV, "text/csv"))
    app.run()
    assert not app.exception
    assert "referrals.csv: 2 to import, 0 already exist (skipped), 2 refused" in [
        t.value for t in app.text
    ]
    problems = _table(app, "where", "field", "reason")
    assert list(problems["where"]) == ["line 3", "line 4"]
    assert list(problems["field"]) == ["sex", "metastatic_sites"]
    assert "unknown site 'mars'" in problems["reason"][1]
    ready = _table(app, "where", "mrn", "name")
    assert list(ready["mrn"]) == ["UP-1", "UP-4"]
    assert _counts(database_url) == before  # the report wrote nothing

    _button(app, "Import the 2 valid row(s)").click().run()
    assert not app.exception
    assert any(
        "2 imported, 0 already existed (skipped), 2 refused" in _plain(s.value) for s in app.success
    )
    after = _counts(database_url)
    assert after[:2] == (before[0] + 2, before[1] + 2)
    # The same file again: both now exist, nothing to import, no button.
    assert "referrals.csv: 0 to import, 2 already exist (skipped), 2 refused" in [
        t.value for t in app.text
    ]
    assert not [b for b in app.button if b.label.startswith("Import the")]


def test_malformed_csv_is_one_clear_error(open_page: Callable[..., Any], database_url: str) -> None:
    app = open_page(PAGE, role="navigator")
    app.file_uploader(key="referral_csv").set_value(("r.csv", b"mrn,name\nA,B\n", "text/csv"))
    app.run()
    assert _errors(app) == ["header: missing required column(s) sex, date_of_birth, referral_date"]


def test_fhir_upload_imports_a_case_and_refuses_a_pseudonymised_one(
    open_page: Callable[..., Any],
    database_url: str,
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    case_id = make_case(mrn="FH-1", sites=("peritoneum",))
    exported = export_case_fhir(contexts["navigator"], case_id, include_identifiers=True)
    moved = exported.content.replace(b'"FH-1"', b'"FH-2"').replace(b"CUP-00001", b"CUP-X")
    app = open_page(PAGE, role="navigator")
    app.file_uploader(key="fhir_bundle").set_value(("case.json", moved, "application/json"))
    app.run()
    assert not app.exception
    assert "case.json: 1 to import, 0 already exist (skipped), 0 refused" in [
        t.value for t in app.text
    ]
    _button(app, "Import the case of MRN FH-2").click().run()
    assert not app.exception
    with unit_of_work(database_url) as session:
        patient = session.scalar(select(Patient).where(Patient.mrn == "FH-2"))
        assert patient is not None
        case = session.scalar(select(Case).where(Case.patient_id == patient.id))
        assert case is not None and case.metastatic_sites == ["peritoneum"]

    pseudonymised = export_case_fhir(contexts["navigator"], case_id).content
    before = _counts(database_url)
    app.file_uploader(key="fhir_bundle").set_value(("p.json", pseudonymised, "application/json"))
    app.run()
    problems = _table(app, "where", "field", "reason")
    assert list(problems["field"]) == ["mrn", "date_of_birth"]
    assert "pseudonymised" in problems["reason"][0]
    assert not [b for b in app.button if b.label.startswith("Import the case")]
    assert _counts(database_url) == before


def test_roles_that_may_not_import_see_only_the_form(open_page: Callable[..., Any]) -> None:
    app = open_page(PAGE, role="oncologist")
    assert not app.exception
    assert len(app.file_uploader) == 0
    assert any("Importing files needs one of these roles" in i.value for i in app.info)
    viewer = open_page(PAGE, role="viewer")
    assert any("may not open this page" in e.value for e in viewer.error)
