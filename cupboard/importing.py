"""Referral files read and checked before anything is written: pure, no database.

A referral file is CSV, one row per patient, with the columns of ``REFERRAL_COLUMNS``
(documented in docs/import-formats.md). :func:`read_referral_csv` checks the whole file
first: a file that cannot be read at all raises :class:`MalformedFileError` (one line,
for the CLI's exit 2); each bad row becomes a :class:`Problem` naming its line and the
field. Rows are checked with the same rules as the referral form
(:func:`cupboard.services.cases.validate_referral`). Whether an MRN already exists is
the database's question, answered by :mod:`cupboard.services.interop`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from cupboard import validation as v
from cupboard.errors import CupboardError, ValidationError
from cupboard.knowledge.sites import BONE_PATTERNS, METASTATIC_SITES
from cupboard.search_keys import compact_id
from cupboard.services.cases import MAX_AGE_YEARS, Referral, validate_referral

MAX_FILE_BYTES = 5_000_000
MAX_ROWS = 5_000


class MalformedFileError(CupboardError):
    """The file as a whole cannot be read; nothing in it was considered."""


@dataclass(frozen=True)
class Problem:
    """Why one row (or one part of a file) was refused: where, which field, why."""

    where: str  # "line 7", "entry 12 (Observation)", "file"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    meaning: str
    example: str


REFERRAL_COLUMNS: tuple[Column, ...] = (
    Column("mrn", True, "Medical record number (unique; a re-import skips it)", "H1234567"),
    Column("name", True, "Patient's full name", "Anna Exempel"),
    Column("sex", True, "female or male (F / M accepted)", "female"),
    Column("date_of_birth", True, "YYYY-MM-DD; age at most 130 years", "1958-03-14"),
    Column("referral_date", True, "YYYY-MM-DD, not in the future", "2026-11-02"),
    Column(
        "pathway_start",
        False,
        "Well-founded suspicion, day 0 [SVF], YYYY-MM-DD; default: referral_date",
        "2026-11-01",
    ),
    Column("phone", False, "Patient's phone number", "+46 8 123 456"),
    Column("referrer_name", False, "Referring clinician", "Dr GP Demo"),
    Column("referrer_phone", False, "Referrer's phone number", "+46 8 654 321"),
    Column("prior_malignancy", False, "Earlier cancer, especially malignancy [SVF]", "none"),
    Column("presentation", False, "What was found, in words", "liver lesions on CT"),
    Column(
        "metastatic_sites",
        False,
        "Site codes or names separated by ; or | (e.g. liver; bone)",
        "liver; bone",
    ),
    Column("lesion_count", False, "Number of lesions on imaging (whole number)", "3"),
    Column("bone_pattern", False, "blastic, lytic or mixed", "lytic"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in REFERRAL_COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in REFERRAL_COLUMNS if c.required)

SEX_ALIASES: dict[str, str] = {"female": "female", "f": "female", "male": "male", "m": "male"}
_SITE_LOOKUP: dict[str, str] = {
    **{label.lower(): code for code, label in METASTATIC_SITES.items()},
    **{code.replace("_", " "): code for code in METASTATIC_SITES},
    **{code: code for code in METASTATIC_SITES},
}


@dataclass(frozen=True)
class ReferralRow:
    line: int
    referral: Referral


@dataclass(frozen=True)
class ReferralFile:
    """A checked file: the rows that may be written and the rows refused, by line."""

    rows: tuple[ReferralRow, ...]
    problems: tuple[Problem, ...]
    data_rows: int

    @property
    def refused_lines(self) -> tuple[int, ...]:
        return tuple(sorted({int(p.where.removeprefix("line ")) for p in self.problems}))


def _header_name(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def _decode(content: bytes) -> str:
    if len(content) > MAX_FILE_BYTES:
        raise MalformedFileError(
            f"file: is too large ({len(content) / 1e6:.1f} MB; at most "
            f"{MAX_FILE_BYTES / 1e6:.0f} MB)"
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedFileError(
            "file: is not UTF-8 text; save it as 'CSV UTF-8 (comma delimited)'"
        ) from None
    if "\x00" in text:
        raise MalformedFileError("file: contains NUL bytes; it is not a CSV text file")
    if not text.strip():
        raise MalformedFileError("file: is empty")
    return text


def _delimiter(first_line: str) -> str:
    """Comma, or semicolon when a spreadsheet saved it so (no comma in the header)."""
    return ";" if "," not in first_line and ";" in first_line else ","


def _check_header(header: list[str]) -> list[str]:
    names = [_header_name(h) for h in header]
    unknown = [h for h, n in zip(header, names, strict=True) if n not in COLUMN_NAMES]
    if unknown:
        raise MalformedFileError(
            f"header: unknown column {v.shown(unknown[0].strip())}; the columns are "
            f"{', '.join(COLUMN_NAMES)}"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MalformedFileError(f"header: column {v.shown(repeated[0])} appears more than once")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise MalformedFileError(f"header: missing required column(s) {', '.join(missing)}")
    return names


def _sites(value: str) -> tuple[str, ...]:
    sites: list[str] = []
    for part in value.replace("|", ";").split(";"):
        name = " ".join(part.strip().lower().split())
        if not name:
            continue
        code = _SITE_LOOKUP.get(name) or _SITE_LOOKUP.get(name.replace(" ", "_"))
        if code is None:
            raise ValidationError(
                "metastatic_sites",
                f"unknown site {v.shown(part.strip())}; use codes such as "
                f"{', '.join(list(METASTATIC_SITES)[:6])} …",
            )
        sites.append(code)
    return tuple(sites)


def _lesion_count(value: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(
            "lesion_count", f"must be a whole number; got {v.shown(value)}"
        ) from None


def _check_age(date_of_birth: str, referral_date: str) -> None:
    """Name the age when a birth date is implausible (e.g. 200 years ago)."""
    try:
        born = dt.date.fromisoformat(date_of_birth)
        referred = dt.date.fromisoformat(referral_date)
    except ValueError:
        return  # the form rules name the bad date
    age = referred.year - born.year - ((referred.month, referred.day) < (born.month, born.day))
    if age > MAX_AGE_YEARS:
        raise ValidationError(
            "date_of_birth", f"gives an age of {age} years (at most {MAX_AGE_YEARS})"
        )


# A calendar date as the template asks, or as a spreadsheet saves a date cell (the day
# at midnight). Python's ISO parser would also take week dates (2026-W45-1) and
# ordinal or compact forms no referral letter uses; those are refused.
_CSV_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
DATE_COLUMNS: tuple[str, ...] = ("date_of_birth", "referral_date", "pathway_start")


def _csv_date(field: str, value: str) -> str:
    if not value:
        return value
    matched = _CSV_DATE.fullmatch(value.strip())
    if matched is None:
        raise ValidationError(field, f"must be a date YYYY-MM-DD; got {v.shown(value)}")
    return matched.group(1)


# Characters that show nothing (zero-width space and joiners, BOM, direction marks):
# pasted from letters and spreadsheets, they make one MRN look like two.
_INVISIBLE = {"Cf"}


def normalise_mrn(value: str) -> str:
    """The MRN as stored: Unicode NFC (a decomposed Å is the same Å), without invisible
    formatting characters, without surrounding space."""
    composed = unicodedata.normalize("NFC", value)
    return "".join(c for c in composed if unicodedata.category(c) not in _INVISIBLE).strip()


def mrn_key(value: str) -> str:
    """What makes two MRNs the same record number: case, accents, separators and
    invisible characters aside ("19580314-1234" and "195803141234", "ab12" and "AB12")."""
    return compact_id(normalise_mrn(value))


def _row_referral(values: dict[str, str]) -> Referral:
    """One row as a Referral, or ValidationError naming the first bad field."""
    for name in REQUIRED_COLUMNS:
        if not values.get(name):
            raise ValidationError(name, "is required")
    values = {**values, **{n: _csv_date(n, values.get(n, "")) for n in DATE_COLUMNS}}
    _check_age(values["date_of_birth"], values["referral_date"])
    sex = SEX_ALIASES.get(values["sex"].lower(), values["sex"])
    bone = values.get("bone_pattern", "").lower() or None
    if bone is not None and bone not in BONE_PATTERNS:
        raise ValidationError(
            "bone_pattern", f"must be one of blastic, lytic, mixed; got {v.shown(bone)}"
        )
    return Referral(
        mrn=normalise_mrn(values["mrn"]),
        name=values["name"],
        sex=sex,
        date_of_birth=values["date_of_birth"],
        referral_date=values["referral_date"],
        pathway_start=values.get("pathway_start") or None,
        phone=values.get("phone") or None,
        referrer_name=values.get("referrer_name") or None,
        referrer_phone=values.get("referrer_phone") or None,
        prior_malignancy=values.get("prior_malignancy") or None,
        presentation=values.get("presentation") or None,
        metastatic_sites=_sites(values.get("metastatic_sites", "")),
        lesion_count=_lesion_count(values.get("lesion_count", "")),
        bone_pattern=bone,
    )


def read_referral_csv(content: bytes, today: dt.date) -> ReferralFile:
    """Check every row of a referral file; raise MalformedFileError if it is unreadable."""
    text = _decode(content)
    delimiter = _delimiter(text.splitlines()[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        names = _check_header(header)
        candidates: list[tuple[int, str, Referral | None, Problem | None]] = []
        start = reader.line_num + 1
        for raw in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in raw):
                continue
            if len(candidates) >= MAX_ROWS:
                raise MalformedFileError(f"file: has more than {MAX_ROWS} rows; split it")
            candidates.append(_check_row(line, raw, names, today))
    except csv.Error as error:
        raise MalformedFileError(
            f"file: is not a readable CSV file (line {reader.line_num}: {error})"
        ) from None
    if not candidates:
        raise MalformedFileError("file: has a header but no referral rows")
    return _without_duplicates(candidates)


def _check_row(
    line: int, raw: list[str], names: list[str], today: dt.date
) -> tuple[int, str, Referral | None, Problem | None]:
    where = f"line {line}"
    values = {name: (raw[i].strip() if i < len(raw) else "") for i, name in enumerate(names)}
    mrn = normalise_mrn(values.get("mrn", ""))
    if len(raw) > len(names):
        return (
            line,
            mrn,
            None,
            Problem(where, "row", f"has {len(raw)} values but the header has {len(names)} columns"),
        )
    try:
        referral = _row_referral(values)
        validate_referral(referral, today)
    except ValidationError as refused:
        return line, mrn, None, Problem(where, refused.field, refused.message)
    return line, mrn, referral, None


def _without_duplicates(
    candidates: list[tuple[int, str, Referral | None, Problem | None]],
) -> ReferralFile:
    """An MRN twice in one file is refused on every line: which row is right is unknown."""
    lines_by_mrn: dict[str, list[int]] = defaultdict(list)
    for line, mrn, _, _ in candidates:
        if mrn:
            lines_by_mrn[mrn_key(mrn)].append(line)
    rows: list[ReferralRow] = []
    problems: list[Problem] = []
    for line, mrn, referral, problem in candidates:
        lines = lines_by_mrn.get(mrn_key(mrn), [])
        if len(lines) > 1:
            listed = ", ".join(str(n) for n in lines)
            problems.append(
                Problem(
                    f"line {line}",
                    "mrn",
                    f"{mrn} appears more than once in this file (lines {listed})",
                )
            )
        elif problem is not None:
            problems.append(problem)
        else:
            assert referral is not None
            rows.append(ReferralRow(line, referral))
    return ReferralFile(tuple(rows), tuple(problems), len(candidates))


def referral_template_csv() -> bytes:
    """A header row and one example row: a file to fill in (no patient data)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMN_NAMES)
    writer.writerow([c.example for c in REFERRAL_COLUMNS])
    return buffer.getvalue().encode("utf-8")
