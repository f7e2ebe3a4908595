"""Cohort and queue exports (CSV and Excel) for audit meetings."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import PermissionDeniedError, ValidationError
from cupboard.export import IDENTIFIER_COLUMNS, safe_cell
from cupboard.models import AuditEvent
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, record_decision
from cupboard.services.findings import IhcEntry, add_pathology_report
from cupboard.services.interop import export_cohort, export_queue
from cupboard.services.meetings import add_to_agenda, create_meeting

TODAY = dt.date.today()


@pytest.fixture
def board(contexts: dict[str, ServiceContext], make_case: Callable[..., int]) -> dict[str, int]:
    """Three cases: a favourable one decided 10 days after referral, two undecided."""
    referred = TODAY - dt.timedelta(days=10)
    axillary = make_case(
        mrn="MRN-AX",
        name="Axel Axillary",
        sex="female",
        sites=("axillary_nodes",),
        referral_date=referred,
        lesion_count=1,
    )
    add_pathology_report(
        contexts["pathologist"],
        axillary,
        histology="adenocarcinoma",
        reported_on=referred + dt.timedelta(days=2),
        ihc=[
            IhcEntry("CK7", "positive"),
            IhcEntry("GATA3", "positive"),
            IhcEntry("ER", "positive"),
        ],
    )
    record_decision(
        contexts["chair"],
        axillary,
        DecisionDraft(
            code="site_specific",
            rationale="Isolated axillary adenocarcinoma, GATA3+ ER+",
            decided_on=TODAY,
            presumed_primary="breast",
        ),
    )
    liver = make_case(mrn="MRN-LI", name="Liv Liver", sex="male", sites=("liver", "bone"))
    third = make_case(mrn="MRN-3", name="Tre Third")
    meeting = create_meeting(contexts["navigator"], meeting_date=TODAY + dt.timedelta(days=2))
    add_to_agenda(contexts["navigator"], meeting, liver, question='=HYPERLINK("http://x")')
    add_to_agenda(contexts["navigator"], meeting, axillary, question="Breast primary?")
    return {"axillary": axillary, "liver": liver, "third": third, "meeting": meeting}


def _csv(content: bytes) -> pd.DataFrame:
    assert content.startswith(b"\xef\xbb\xbf")  # a BOM, so spreadsheets read UTF-8
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_default_cohort_csv_is_pseudonymised(
    contexts: dict[str, ServiceContext], board: dict[str, int]
) -> None:
    exported = export_cohort(contexts["navigator"], "csv")
    assert exported.file_name.endswith(".csv") and exported.rows == 3
    frame = _csv(exported.content)
    assert not set(IDENTIFIER_COLUMNS) & set(frame.columns)
    for secret in (b"MRN-AX", b"Axel Axillary", b"MRN-LI", b"Liv Liver"):
        assert secret not in exported.content
    assert list(frame["pseudonym"]) == ["CUP-00001", "CUP-00002", "CUP-00003"]
    row = frame.set_index("case_id").loc[str(board["axillary"])]
    assert row["sex"] == "female"
    assert row["histology"] == "Adenocarcinoma"
    assert row["favourable_subtype"] == "axillary_nodes_women"
    assert row["manage_as"] == "breast cancer"
    assert row["decisions"] == "site_specific"
    assert row["first_decision_date"] == TODAY.isoformat()
    assert row["days_to_decision"] == "10"
    assert row["metastatic_sites"] == "axillary_nodes"
    undecided = frame.set_index("case_id").loc[str(board["liver"])]
    assert undecided["metastatic_sites"] == "liver; bone"
    assert undecided["days_to_decision"] == "" and undecided["favourable_subtype"] == ""


def test_cohort_xlsx_with_identifiers_reads_back(
    contexts: dict[str, ServiceContext], board: dict[str, int]
) -> None:
    exported = export_cohort(contexts["oncologist"], "xlsx", include_identifiers=True)
    assert exported.file_name.endswith(".xlsx")
    frame = pd.read_excel(io.BytesIO(exported.content), engine="openpyxl")
    assert {"mrn", "name", "date_of_birth"} <= set(frame.columns)
    assert sorted(frame["mrn"]) == ["MRN-3", "MRN-AX", "MRN-LI"]
    workbook = openpyxl.load_workbook(io.BytesIO(exported.content))
    sheet = workbook["Cohort"]
    header = [cell.value for cell in sheet[1]]
    referral = sheet.cell(row=2, column=header.index("referral_date") + 1)
    assert referral.is_date and referral.number_format == "yyyy-mm-dd"
    assert sheet.freeze_panes == "A2"


def test_queue_export_follows_the_agenda_and_keeps_formulas_as_text(
    contexts: dict[str, ServiceContext], board: dict[str, int]
) -> None:
    csv = _csv(export_queue(contexts["navigator"], board["meeting"], "csv").content)
    assert list(csv["position"]) == ["1", "2"]
    assert list(csv["case_id"]) == [str(board["liver"]), str(board["axillary"])]
    assert csv["question"][0] == '\'=HYPERLINK("http://x")'
    assert "mrn" not in csv.columns
    xlsx = export_queue(contexts["navigator"], board["meeting"], "xlsx").content
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    question = sheet.cell(row=2, column=header.index("question") + 1)
    assert question.data_type == "s" and question.value.startswith("'=")


def test_every_export_is_audited(
    contexts: dict[str, ServiceContext], board: dict[str, int], database_url: str
) -> None:
    export_cohort(contexts["navigator"], "csv")
    export_cohort(contexts["navigator"], "xlsx", include_identifiers=True)
    export_queue(contexts["chair"], board["meeting"], "csv")
    with unit_of_work(database_url) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
        ).all()
    assert [(e.actor_username, e.entity, e.reason) for e in events] == [
        ("test-navigator", "cohort", "cohort csv, 3 cases, pseudonymised"),
        ("test-navigator", "cohort", "cohort xlsx, 3 cases, with identifiers"),
        ("test-chair", "mdt_meeting", "queue csv, 2 cases, pseudonymised"),
    ]


def test_export_refusals(contexts: dict[str, ServiceContext], board: dict[str, int]) -> None:
    with pytest.raises(PermissionDeniedError):
        export_cohort(contexts["viewer"], "csv")
    with pytest.raises(ValidationError, match=r"^format: must be one of csv, xlsx"):
        export_cohort(contexts["navigator"], "pdf")


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+46 8", "'+46 8"),
        ("-2", "'-2"),
        ("@SUM", "'@SUM"),
        ("ok", "ok"),
        (3, 3),
    ],
)
def test_safe_cell(value: object, safe: object) -> None:
    assert safe_cell(value) == safe
