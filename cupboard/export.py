"""CSV and Excel exports for audit meetings: pure frame builders and file bytes.

Rows come in as plain data (from :mod:`cupboard.services.interop`); frames and bytes go
out. Identifiers (MRN, name, date of birth) appear only when asked for; the default
export is pseudonymised. Text that a spreadsheet would run as a formula (starting with
= + - @) is prefixed with an apostrophe, so exported free text stays text.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from cupboard.knowledge.decisions import DECISION_LABELS
from cupboard.knowledge.favourable_subtypes import FAVOURABLE_SUBTYPES
from cupboard.knowledge.histology import HISTOLOGY_CATEGORIES

IDENTIFIER_COLUMNS: tuple[str, ...] = ("mrn", "name", "date_of_birth")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SUBTYPE_LABELS = {s.code: s.manage_as for s in FAVOURABLE_SUBTYPES}


@dataclass(frozen=True)
class ExportFile:
    file_name: str
    media_type: str
    content: bytes
    rows: int


@dataclass(frozen=True)
class CohortRow:
    case_id: int
    pseudonym: str
    mrn: str
    name: str
    date_of_birth: dt.date
    sex: str
    age_at_pathway_start: int
    referral_date: dt.date
    pathway_start: dt.date
    status: str
    diagnostic_stage: str
    metastatic_sites: tuple[str, ...]
    lesion_count: int | None
    histology: str | None
    favourable_subtype: str | None
    latest_ecog: int | None
    first_mdt_date: dt.date | None
    mdt_discussions: int
    first_decision_date: dt.date | None
    decisions: tuple[str, ...]
    treatment_started_on: dt.date | None
    closing_reason: str | None
    closed_on: dt.date | None
    primary_found_site: str | None


@dataclass(frozen=True)
class QueueRow:
    position: int
    case_id: int
    pseudonym: str
    mrn: str
    name: str
    date_of_birth: dt.date
    age: int
    sex: str
    metastatic_sites: tuple[str, ...]
    status: str
    diagnostic_stage: str
    days_since_pathway_start: int
    histology: str | None
    favourable_subtype: str | None
    latest_ecog: int | None
    question: str | None
    presented_by: str | None


def _days(start: dt.date | None, end: dt.date | None) -> int | None:
    return (end - start).days if start is not None and end is not None else None


def _sites(sites: Sequence[str]) -> str:
    return "; ".join(sites)


def _frame(records: list[dict[str, object]], columns: list[str]) -> pd.DataFrame:
    """Plain Python values (object dtype): whole numbers stay whole when some are missing."""
    return pd.DataFrame(records, columns=columns, dtype=object)


def _drop_identifiers(record: dict[str, object], include_identifiers: bool) -> dict[str, object]:
    if include_identifiers:
        return record
    return {k: value for k, value in record.items() if k not in IDENTIFIER_COLUMNS}


COHORT_COLUMNS: tuple[str, ...] = (
    "case_id",
    "pseudonym",
    *IDENTIFIER_COLUMNS,
    "sex",
    "age_at_pathway_start",
    "referral_date",
    "pathway_start",
    "status",
    "diagnostic_stage",
    "metastatic_sites",
    "lesion_count",
    "histology",
    "favourable_subtype",
    "manage_as",
    "latest_ecog",
    "first_mdt_date",
    "mdt_discussions",
    "first_decision_date",
    "days_to_decision",
    "decisions",
    "decision_labels",
    "treatment_started_on",
    "days_to_treatment",
    "closing_reason",
    "closed_on",
    "primary_found_site",
)


def cohort_frame(rows: Sequence[CohortRow], *, include_identifiers: bool = False) -> pd.DataFrame:
    """One row per case; days are calendar days from the pathway start (day 0) [SVF]."""
    records = []
    for r in rows:
        record: dict[str, object] = {
            "case_id": r.case_id,
            "pseudonym": r.pseudonym,
            "mrn": r.mrn,
            "name": r.name,
            "date_of_birth": r.date_of_birth,
            "sex": r.sex,
            "age_at_pathway_start": r.age_at_pathway_start,
            "referral_date": r.referral_date,
            "pathway_start": r.pathway_start,
            "status": r.status,
            "diagnostic_stage": r.diagnostic_stage,
            "metastatic_sites": _sites(r.metastatic_sites),
            "lesion_count": r.lesion_count,
            "histology": HISTOLOGY_CATEGORIES.get(r.histology, r.histology)
            if r.histology
            else None,
            "favourable_subtype": r.favourable_subtype,
            "manage_as": _SUBTYPE_LABELS.get(r.favourable_subtype or ""),
            "latest_ecog": r.latest_ecog,
            "first_mdt_date": r.first_mdt_date,
            "mdt_discussions": r.mdt_discussions,
            "first_decision_date": r.first_decision_date,
            "days_to_decision": _days(r.pathway_start, r.first_decision_date),
            "decisions": "; ".join(r.decisions),
            "decision_labels": "; ".join(DECISION_LABELS.get(c, c) for c in r.decisions),
            "treatment_started_on": r.treatment_started_on,
            "days_to_treatment": _days(r.pathway_start, r.treatment_started_on),
            "closing_reason": r.closing_reason,
            "closed_on": r.closed_on,
            "primary_found_site": r.primary_found_site,
        }
        records.append(_drop_identifiers(record, include_identifiers))
    columns = [c for c in COHORT_COLUMNS if include_identifiers or c not in IDENTIFIER_COLUMNS]
    return _frame(records, columns)


QUEUE_COLUMNS: tuple[str, ...] = (
    "position",
    "case_id",
    "pseudonym",
    *IDENTIFIER_COLUMNS,
    "age",
    "sex",
    "metastatic_sites",
    "status",
    "diagnostic_stage",
    "days_since_pathway_start",
    "histology",
    "favourable_subtype",
    "latest_ecog",
    "question",
    "presented_by",
)


def queue_frame(rows: Sequence[QueueRow], *, include_identifiers: bool = False) -> pd.DataFrame:
    """The cases on one meeting's agenda, in agenda order."""
    records = []
    for r in rows:
        record: dict[str, object] = {
            "position": r.position,
            "case_id": r.case_id,
            "pseudonym": r.pseudonym,
            "mrn": r.mrn,
            "name": r.name,
            "date_of_birth": r.date_of_birth,
            "age": r.age,
            "sex": r.sex,
            "metastatic_sites": _sites(r.metastatic_sites),
            "status": r.status,
            "diagnostic_stage": r.diagnostic_stage,
            "days_since_pathway_start": r.days_since_pathway_start,
            "histology": HISTOLOGY_CATEGORIES.get(r.histology, r.histology)
            if r.histology
            else None,
            "favourable_subtype": r.favourable_subtype,
            "latest_ecog": r.latest_ecog,
            "question": r.question,
            "presented_by": r.presented_by,
        }
        records.append(_drop_identifiers(record, include_identifiers))
    columns = [c for c in QUEUE_COLUMNS if include_identifiers or c not in IDENTIFIER_COLUMNS]
    return _frame(records, columns)


def safe_cell(value: object) -> object:
    """Text a spreadsheet would evaluate as a formula is kept as text (OWASP CSV
    injection); numbers and dates pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cells(value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()  # numpy scalar -> Python
    return safe_cell(value)


def _rows(frame: pd.DataFrame) -> list[list[object]]:
    return [[_cells(value) for value in row] for row in frame.itertuples(index=False)]


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark (so spreadsheets read accents), ISO dates."""
    safe = pd.DataFrame(_rows(frame), columns=list(frame.columns), dtype=object)
    text = safe.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n")
    return text.encode("utf-8-sig")


def to_excel(frame: pd.DataFrame, sheet: str = "Export") -> bytes:
    """An .xlsx workbook (openpyxl): a header row, dates as dates, a frozen header."""
    workbook = Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet[:31]
    worksheet.append(list(frame.columns))
    for row in _rows(frame):
        worksheet.append(row)
    for index, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(index)
        worksheet.column_dimensions[letter].width = max(10, min(40, len(str(column)) + 2))
        for cell in worksheet[letter][1:]:
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    worksheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_file(frame: pd.DataFrame, fmt: str, stem: str, sheet: str = "Export") -> ExportFile:
    content = to_csv(frame) if fmt == "csv" else to_excel(frame, sheet)
    return ExportFile(f"{stem}.{fmt}", MEDIA_TYPES[fmt], content, len(frame))
