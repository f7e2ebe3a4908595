"""Interoperability: FHIR export and import, referral import, CSV/Excel exports.

Reads return plain data; every export is recorded as an audit event (action
``export``) before its bytes are handed out; an import is checked in full first (a
report, nothing written) and written only when the user confirms, in one transaction,
skipping patients whose MRN already exists. Values are validated with the same rules as
the forms (services/cases, findings, workup, decisions, meetings, performance).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cupboard import validation as v
from cupboard.db import unit_of_work
from cupboard.errors import CupboardError, NotFoundError, ValidationError
from cupboard.export import (
    CohortRow,
    ExportFile,
    QueueRow,
    cohort_frame,
    export_file,
    queue_frame,
)
from cupboard.fhir import (
    AgendaData,
    CareReferralData,
    CaseData,
    CaseRecord,
    DecisionData,
    EcogData,
    IhcData,
    InvestigationData,
    MeetingData,
    MolecularData,
    PathologyData,
    PatientData,
    SerumData,
    bundle_json,
    case_bundle,
    record_from_bundle,
)
from cupboard.guidance import favourable_subtype
from cupboard.importing import (
    MalformedFileError,
    Problem,
    ReferralFile,
    mrn_key,
    normalise_mrn,
    read_referral_csv,
)
from cupboard.knowledge.histology import (
    DIFFERENTIATION,
    HISTOLOGY_CATEGORIES,
    SPECIMEN_TYPES,
)
from cupboard.knowledge.investigations import INVESTIGATIONS_BY_CODE
from cupboard.knowledge.sites import METASTATIC_SITES
from cupboard.models import (
    AgendaItem,
    Case,
    Decision,
    EcogObservation,
    IhcResult,
    Investigation,
    MdtMeeting,
    MolecularReport,
    PathologyReport,
    Patient,
    SerumMarkerResult,
    User,
    utcnow,
)
from cupboard.permissions import Actor
from cupboard.search_keys import fold_text
from cupboard.services import case_record, queue, referrals
from cupboard.services.accounts import actor_of
from cupboard.services.audit import record_creation, record_event
from cupboard.services.case_record import load_profiles
from cupboard.services.cases import (
    Referral,
    add_referral,
    initial_workup_statuses,
    validate_case_changes,
    validate_referral,
)
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, validate_decision
from cupboard.services.findings import (
    IhcEntry,
    MolecularFindings,
    validate_ihc,
    validate_molecular,
    validate_serum_marker,
)
from cupboard.services.meetings import validate_attendees
from cupboard.services.performance import validate_ecog
from cupboard.services.reading import age_on
from cupboard.services.workup import check_investigation_dates, validate_investigation_changes

_log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Reading one case as plain data


def _fhir_record(record: case_record.CaseRecord) -> CaseRecord:
    """The export's plain record of a case, from the one reading of it the screens use
    (:func:`cupboard.services.case_record.case_record`): the bundle says what the case
    page says. Rows come oldest first, as they were entered."""
    header, found = record.header, record.findings
    reports = sorted(found.pathology, key=lambda r: (r.reported_on, r.id))
    report_ids = {r.id for r in reports}
    ihc = sorted(found.ihc, key=lambda r: (r.reported_on, r.id))
    decisions = sorted(record.decisions, key=lambda d: d.id)
    position = {d.id: n for n, d in enumerate(decisions)}

    def ihc_data(r: case_record.IhcRow) -> IhcData:
        return IhcData(r.marker, r.result, r.reported_on, r.percentage)

    return CaseRecord(
        case_id=header.case_id,
        patient=PatientData(
            pseudonym=header.pseudonym,
            mrn=header.mrn,
            name=header.name,
            sex=header.sex,
            date_of_birth=header.date_of_birth,
            phone=header.phone,
            referrer_name=header.referrer_name,
            referrer_phone=header.referrer_phone,
            prior_malignancy=header.prior_malignancy,
            birth_year=header.date_of_birth.year,
        ),
        case=CaseData(
            status=header.status,
            diagnostic_stage=header.diagnostic_stage,
            pathway_start=header.pathway_start,
            referral_date=header.referral_date,
            presentation=header.presentation,
            metastatic_sites=header.metastatic_sites,
            lesion_count=header.lesion_count,
            bone_pattern=header.bone_pattern,
            primary_found_site=header.primary_found_site,
            primary_found_by=header.primary_found_by,
            primary_found_on=header.primary_found_on,
            closing_reason=header.closing_reason,
            closed_on=header.closed_on,
        ),
        investigations=tuple(
            InvestigationData(
                i.code,
                i.status,
                i.requested_on,
                i.booked_for,
                i.done_on,
                i.reported_on,
                i.result_text,
                i.responsible,
            )
            for i in sorted(record.workup, key=lambda i: i.investigation_id)
        ),
        pathology_reports=tuple(
            PathologyData(
                histology=r.histology,
                reported_on=r.reported_on,
                differentiation=r.differentiation,
                biopsy_site=r.biopsy_site,
                specimen_type=r.specimen_type,
                pathologist=r.pathologist,
                comment=r.comment,
                ihc=tuple(ihc_data(i) for i in ihc if i.pathology_report_id == r.id),
            )
            for r in reports
        ),
        ihc_without_report=tuple(
            ihc_data(i) for i in ihc if i.pathology_report_id not in report_ids
        ),
        molecular_reports=tuple(
            MolecularData(
                reported_on=m.reported_on,
                msi_status=m.msi_status,
                mmr_status=m.mmr_status,
                tmb=m.tmb,
                pdl1_tps=m.pdl1_tps,
                pdl1_cps=m.pdl1_cps,
                alterations=m.alterations,
                tissue_of_origin_site=m.tissue_of_origin_site,
                tissue_of_origin_confidence=m.tissue_of_origin_confidence,
                lab=m.lab,
            )
            for m in sorted(found.molecular, key=lambda m: (m.reported_on, m.id))
        ),
        serum_markers=tuple(
            SerumData(s.marker, s.value, s.unit, s.measured_on, s.upper_limit_normal)
            for s in sorted(found.serum, key=lambda s: (s.measured_on, s.id))
        ),
        ecog=tuple(EcogData(e.score, e.observed_on, e.weight_kg, e.note) for e in record.ecog),
        decisions=tuple(
            DecisionData(
                code=d.code,
                rationale=d.rationale,
                decided_on=d.decided_on,
                presumed_primary=d.presumed_primary,
                regimen=d.regimen,
                biomarker=d.biomarker,
                alteration=d.alteration,
                target_site=d.target_site,
                local_modality=d.local_modality,
                workup_requested=d.workup_requested,
                plan=d.plan,
                ecog_at_decision=d.ecog_at_decision,
                attendees=d.attendees,
                meeting=MeetingData(d.meeting_date, d.meeting_title or "")
                if d.meeting_date is not None
                else None,
                superseded=d.superseded,
                amends=position.get(d.amends_decision_id) if d.amends_decision_id else None,
                treatment_started_on=d.treatment_started_on,
                follow_up_due=d.follow_up_due,
                follow_up_done_on=d.follow_up_done_on,
            )
            for d in decisions
        ),
        agenda=tuple(
            AgendaData(MeetingData(a.meeting_date, a.title), a.question)
            for a in sorted(record.agenda, key=lambda a: (a.meeting_date, a.meeting_id))
        ),
    )


def read_case_record(ctx: ServiceContext, case_id: int) -> CaseRecord:
    """Everything cupboard holds about one case, as plain values (for export), read as
    the case page reads it, with the referrals beside its decisions."""
    record = _fhir_record(case_record.case_record(ctx, case_id, timeline=False))
    care_referrals = tuple(
        CareReferralData(r.kind, r.status, r.reason, r.requested_on, r.detail, r.status_on)
        for r in referrals.case_referrals(ctx, case_id)
    )
    return dataclasses.replace(record, care_referrals=care_referrals)


def _identifiers_note(include_identifiers: bool) -> str:
    return "with identifiers" if include_identifiers else "pseudonymised"


def _audit_export(
    ctx: ServiceContext,
    entity: str,
    entity_id: int | None,
    reason: str,
    case_id: int | None = None,
) -> None:
    # The export's last check: the account as it is now, in the transaction that
    # audits it, before the file is handed over.
    with ctx.writing("export_data") as session:
        record_event(
            session, ctx.actor, "export", entity, entity_id, case_id=case_id, reason=reason
        )


def fhir_file_name(case_id: int, include_identifiers: bool, today: dt.date) -> str:
    suffix = "" if include_identifiers else "-pseudonymised"
    return f"cupboard-case-{case_id}-fhir{suffix}-{today.isoformat()}.json"


def export_case_fhir(
    ctx: ServiceContext,
    case_id: int,
    *,
    include_identifiers: bool = False,
    now: dt.datetime | None = None,
) -> ExportFile:
    """The case as a FHIR R4 Bundle (JSON). Recorded in the audit trail before it is
    returned; names and MRNs only when ``include_identifiers`` is chosen."""
    ctx.require("export_data")
    now = now or utcnow()
    record = read_case_record(ctx, case_id)
    bundle = case_bundle(record, include_identifiers=include_identifiers, generated_at=now)
    content = bundle_json(bundle).encode("utf-8")
    _audit_export(
        ctx,
        "case",
        case_id,
        f"FHIR bundle, {_identifiers_note(include_identifiers)}",
        case_id=case_id,
    )
    return ExportFile(
        fhir_file_name(case_id, include_identifiers, now.date()),
        "application/fhir+json",
        content,
        1,
    )


# --------------------------------------------------------------------------------------
# Who acts from the command line

# The server operator at the shell already holds the database; the CLI gives them a
# navigator's permissions (imports and exports) and audits them as "cli".
CLI_ACTOR = Actor(
    user_id=None, username="cli", display_name="Command line (server operator)", role="navigator"
)


def actor_for_username(url: str, username: str) -> Actor:
    """The active account ``username`` as an actor (``--as`` on the command line)."""
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            raise NotFoundError("user", username)
        if not user.is_active:
            raise CupboardError(f"user {username} is disabled")
        return actor_of(user)


# --------------------------------------------------------------------------------------
# Import reports


@dataclass(frozen=True)
class ImportItem:
    """One patient in an import: where it is in the file and who it is."""

    where: str
    mrn: str
    name: str


@dataclass(frozen=True)
class ImportReport:
    """What an import would do; nothing has been written."""

    source: str
    to_import: tuple[ImportItem, ...]
    already_exist: tuple[ImportItem, ...]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        return (
            f"{len(self.to_import)} to import, {len(self.already_exist)} already exist "
            f"(skipped), {len(self.problems)} refused"
        )


@dataclass(frozen=True)
class ImportResult:
    source: str
    created_case_ids: tuple[int, ...]
    already_exist: tuple[ImportItem, ...]
    problems: tuple[Problem, ...]

    @property
    def summary(self) -> str:
        return (
            f"{len(self.created_case_ids)} imported, {len(self.already_exist)} already "
            f"existed (skipped), {len(self.problems)} refused"
        )


def report_lines(report: ImportReport) -> list[str]:
    """The report as plain lines (command line; the page shows tables)."""
    lines = [f"{report.source}: {report.summary}"]
    lines += [f"  refused {p}" for p in report.problems]
    lines += [f"  already exists, skipped: {i.where}: MRN {i.mrn}" for i in report.already_exist]
    lines += [f"  to import: {i.where}: MRN {i.mrn}" for i in report.to_import]
    lines += [f"  note: {note}" for note in report.notes]
    return lines


class ImportConflictError(CupboardError):
    """Someone else wrote the same MRN meanwhile; the whole import was rolled back."""


@dataclass(frozen=True)
class _KnownPatient:
    mrn: str
    name: str
    date_of_birth: dt.date


def _known_patients(session: Session) -> dict[str, _KnownPatient]:
    """Every patient by MRN key (:func:`cupboard.importing.mrn_key`): an imported MRN
    that differs only in case, accents, separators or invisible characters is the
    same record number."""
    rows = session.execute(select(Patient.mrn, Patient.name, Patient.date_of_birth))
    return {mrn_key(mrn): _KnownPatient(mrn, name, born) for mrn, name, born in rows}


def _same_person(known: _KnownPatient, name: str, date_of_birth: object) -> bool:
    """The same name (in any word order, case and accents aside) and birth date."""
    return sorted(fold_text(known.name).split()) == sorted(fold_text(name).split()) and str(
        known.date_of_birth
    ) == str(date_of_birth)


def _identity_clash(
    where: str, known: _KnownPatient, mrn: str, name: str, date_of_birth: object
) -> Problem:
    return Problem(
        where,
        "mrn",
        f"{mrn} is the MRN of {known.name} (born {known.date_of_birth}, MRN {known.mrn}) "
        f"here, but this record is {name} (born {date_of_birth}): refused, as two "
        "patients must never share a record; check which hospital issued the number",
    )


def _add_workup(
    session: Session,
    actor: Actor,
    case: Case,
    data: dict[str, Any],
    reason: str,
    given: dict[str, dict[str, Any]] | None = None,
) -> None:
    """One row per catalogue investigation: the imported status where the file gives
    one, otherwise the status a new referral starts with."""
    statuses = initial_workup_statuses(data["sex"], data["metastatic_sites"], data["lesion_count"])
    for code, status in statuses.items():
        values = (given or {}).get(code) or {"status": status}
        row = Investigation(case_id=case.id, code=code, **values)
        session.add(row)
        record_creation(session, actor, row, reason=reason)


def preview_referral_import(
    ctx: ServiceContext, content: bytes, source: str, today: dt.date | None = None
) -> ImportReport:
    """Check a referral CSV in full and say what importing it would do; writes nothing.

    Raises MalformedFileError when the file cannot be read at all."""
    ctx.require("import_data")
    today = today or dt.date.today()
    checked = read_referral_csv(content, today)
    with ctx.reading("register_referral") as session:
        known = _known_patients(session)
    return _referral_report(source, checked, known)


def _referral_report(
    source: str, checked: ReferralFile, known: dict[str, _KnownPatient]
) -> ImportReport:
    to_import, exist, clashes = [], [], []
    for row in checked.rows:
        r = row.referral
        mrn, where = r.mrn.strip(), f"line {row.line}"
        item = ImportItem(where, mrn, r.name.strip())
        existing = known.get(mrn_key(mrn))
        if existing is None:
            to_import.append(item)
        elif _same_person(existing, r.name, r.date_of_birth):
            exist.append(item)
        else:
            clashes.append(_identity_clash(where, existing, mrn, r.name, r.date_of_birth))
    return ImportReport(source, tuple(to_import), tuple(exist), (*checked.problems, *clashes))


# Rows written per transaction: each batch holds the write lock briefly, so that other
# users' saves and exports go through between batches of a large referral file.
REFERRAL_BATCH_ROWS = 50
BATCH_PAUSE_SECONDS = 0.15


def commit_referral_import(
    ctx: ServiceContext, content: bytes, source: str, today: dt.date | None = None
) -> ImportResult:
    """Write the file's valid rows (the user confirmed the report), in batches of
    ``REFERRAL_BATCH_ROWS`` rows, each its own transaction.

    The file is checked again, so what is written is exactly what passes the rules now;
    MRNs that exist (also ones added since the preview, or by another user between
    batches) are skipped, never duplicated; a batch that meets an MRN registered at that
    very moment is left out whole and named in the result."""
    ctx.require("import_data")
    ctx.require("register_referral")
    today = today or dt.date.today()
    checked = read_referral_csv(content, today)
    reason = f"imported from {source}"
    created: list[int] = []
    imported: list[ImportItem] = []
    exist: list[ImportItem] = []
    problems: list[Problem] = list(checked.problems)
    rows = checked.rows
    for start in range(0, len(rows), REFERRAL_BATCH_ROWS):
        batch = ReferralFile(rows[start : start + REFERRAL_BATCH_ROWS], (), 0)
        written: list[int] = []
        try:
            with ctx.writing("import_data") as session:
                report = _referral_report(source, batch, _known_patients(session))
                by_line = {f"line {r.line}": r for r in batch.rows}
                for item in report.to_import:
                    data = validate_referral(by_line[item.where].referral, today)
                    _, case = add_referral(session, ctx.actor, data, f"{reason} {item.where}")
                    _add_workup(session, ctx.actor, case, data, reason)
                    written.append(case.id)
        except IntegrityError:
            first, last = batch.rows[0].line, batch.rows[-1].line
            problems.append(
                Problem(
                    f"lines {first}-{last}",
                    "mrn",
                    "another user registered one of these MRNs while the import ran, so "
                    "these lines were not imported; import the file again to add them",
                )
            )
            continue
        created += written
        imported += report.to_import
        # SQLite's lock is not queued: a writer that begins again at once starves the
        # users waiting for it, so leave them a moment between batches.
        time.sleep(BATCH_PAUSE_SECONDS)
        exist += report.already_exist
        problems += report.problems
    written = ImportReport(source, tuple(imported), tuple(exist), tuple(problems))
    with ctx.writing("import_data") as session:
        record_event(
            session,
            ctx.actor,
            "import",
            "referral_file",
            None,
            reason=f"{source}: {written.summary}",
        )
    return ImportResult(source, tuple(created), tuple(exist), tuple(problems))


# --------------------------------------------------------------------------------------
# FHIR import: validate the whole record, then write it in one transaction


@dataclass
class _CleanCase:
    """A bundle's case, every value validated and ready to insert."""

    referral: dict[str, Any]
    case_fields: dict[str, Any]
    investigations: dict[str, dict[str, Any]]
    pathology: list[tuple[dict[str, Any], list[IhcEntry], Any]]
    ihc_without_report: list[tuple[IhcEntry, dt.date]]
    molecular: list[dict[str, Any]]
    serum: list[dict[str, Any]]
    ecog: list[dict[str, Any]]
    decisions: list[tuple[dict[str, Any], MeetingData | None, bool, int | None, dict[str, Any]]]
    agenda: list[tuple[MeetingData, str | None]]


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def check(self, where: str, action: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a validator; record its refusal against ``where`` instead of raising."""
        try:
            return action(*args, **kwargs)
        except ValidationError as refused:
            self.items.append(Problem(where or "bundle", refused.field, refused.message))
        return None


def _clean_patient(record: CaseRecord, today: dt.date, problems: _Problems) -> dict[str, Any]:
    p, c = record.patient, record.case
    if not p.mrn:
        problems.items.append(
            Problem(
                "Patient",
                "mrn",
                "is missing: this bundle is pseudonymised; export the case with "
                "identifiers to transfer it",
            )
        )
    if p.date_of_birth is None:
        problems.items.append(
            Problem("Patient", "date_of_birth", "a full birth date (YYYY-MM-DD) is needed")
        )
    if c.referral_date is None:
        problems.items.append(
            Problem(
                "bundle",
                "referral_date",
                "is missing: give the EpisodeOfCare a period start or the referral "
                "ServiceRequest an authoredOn date",
            )
        )
    if not p.mrn or p.date_of_birth is None or c.referral_date is None:
        return {}
    referral = Referral(
        mrn=normalise_mrn(p.mrn),
        name=p.name or "",
        sex=p.sex or "",
        date_of_birth=p.date_of_birth,
        referral_date=c.referral_date,
        pathway_start=c.pathway_start,
        phone=p.phone,
        referrer_name=p.referrer_name,
        referrer_phone=p.referrer_phone,
        prior_malignancy=p.prior_malignancy,
        presentation=c.presentation,
        metastatic_sites=c.metastatic_sites,
        lesion_count=c.lesion_count,
        bone_pattern=c.bone_pattern,
    )
    return problems.check("Patient", validate_referral, referral, today) or {}


def _clean_case_fields(c: CaseData, today: dt.date, problems: _Problems) -> dict[str, Any]:
    changes = {
        "status": c.status,
        "diagnostic_stage": c.diagnostic_stage,
        "primary_found_site": c.primary_found_site,
        "primary_found_by": c.primary_found_by,
        "primary_found_on": c.primary_found_on,
        "closing_reason": c.closing_reason,
        "closed_on": c.closed_on,
    }
    cleaned = problems.check("EpisodeOfCare", validate_case_changes, changes, today) or {}
    if cleaned.get("status") == "closed" and not cleaned.get("closing_reason"):
        problems.items.append(Problem("EpisodeOfCare", "closing_reason", "is required to close"))
    return cleaned


def _clean_investigations(
    items: Sequence[InvestigationData], today: dt.date, problems: _Problems
) -> dict[str, dict[str, Any]]:
    cleaned: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.code not in INVESTIGATIONS_BY_CODE:
            problems.items.append(
                Problem(item.where, "code", f"unknown investigation {item.code!r}")
            )
            continue
        if item.code in cleaned:
            problems.items.append(Problem(item.where, "code", f"{item.code} is listed twice"))
            continue
        values = {
            "status": item.status,
            "requested_on": item.requested_on,
            "booked_for": item.booked_for,
            "done_on": item.done_on,
            "reported_on": item.reported_on,
            "result_text": item.result_text,
            "responsible": item.responsible,
        }
        checked = problems.check(item.where, validate_investigation_changes, values, today)
        if checked is None:
            continue
        problems.check(item.where, check_investigation_dates, checked)
        if not _refused_at(problems, item.where):
            cleaned[item.code] = checked
    return cleaned


def _refused_at(problems: _Problems, where: str) -> bool:
    return any(p.where == where for p in problems.items)


def _ihc_entries(items: Sequence[IhcData], where: str, problems: _Problems) -> list[IhcEntry]:
    entries = [IhcEntry(i.marker, i.result, i.percentage) for i in items]
    return problems.check(where, validate_ihc, entries) or []


def _clean_pathology(
    reports: Sequence[PathologyData], today: dt.date, problems: _Problems
) -> list[tuple[dict[str, Any], list[IhcEntry], Any]]:
    cleaned = []
    for r in reports:
        before = len(problems.items)

        def check(field: str, action: Any, *args: Any, r: PathologyData = r) -> Any:
            return problems.check(r.where, action, field, *args)

        values = {
            "histology": check("histology", v.choice, r.histology, HISTOLOGY_CATEGORIES),
            "reported_on": check("reported_on", _required_date, r.reported_on, today),
            "differentiation": check(
                "differentiation", v.optional_choice, r.differentiation, DIFFERENTIATION
            ),
            "biopsy_site": check("biopsy_site", v.optional_choice, r.biopsy_site, METASTATIC_SITES),
            "specimen_type": check(
                "specimen_type", v.optional_choice, r.specimen_type, SPECIMEN_TYPES
            ),
            "pathologist": check("pathologist", v.optional_text, r.pathologist, 120),
            "comment": check("comment", v.optional_text, r.comment, v.MAX_LONG_TEXT),
        }
        panel = _ihc_entries(r.ihc, r.where, problems)
        if len(problems.items) == before:
            cleaned.append((values, panel, r))
    return cleaned


def _required_date(field: str, value: object, today: dt.date) -> dt.date:
    if value is None:
        raise ValidationError(field, "is required")
    return v.date(field, value, not_after=today)


def _clean_molecular(
    reports: Sequence[MolecularData], today: dt.date, problems: _Problems
) -> list[dict[str, Any]]:
    """The rules of services/findings.add_molecular_report, applied to each report."""
    cleaned = []
    for m in reports:
        values = problems.check(
            m.where,
            validate_molecular,
            MolecularFindings(
                reported_on=m.reported_on,  # type: ignore[arg-type]
                msi_status=m.msi_status,
                mmr_status=m.mmr_status,
                tmb=m.tmb,
                pdl1_tps=m.pdl1_tps,
                pdl1_cps=m.pdl1_cps,
                alterations=tuple(m.alterations),
                tissue_of_origin_site=m.tissue_of_origin_site,
                tissue_of_origin_confidence=m.tissue_of_origin_confidence,
                lab=m.lab,
            ),
            today,
        )
        if values is not None:
            cleaned.append(values)
    return cleaned


def _clean_serum(
    markers: Sequence[SerumData], today: dt.date, problems: _Problems
) -> list[dict[str, Any]]:
    """The rules of services/findings.add_serum_marker, applied to each result."""
    cleaned = []
    for s in markers:
        values = problems.check(
            s.where,
            validate_serum_marker,
            marker=s.marker,
            value=s.value,
            measured_on=s.measured_on,
            unit=s.unit,
            upper_limit_normal=s.upper_limit_normal,
            today=today,
        )
        if values is not None:
            cleaned.append(values)
    return cleaned


def _clean_ecog(
    observations: Sequence[EcogData], today: dt.date, problems: _Problems
) -> list[dict[str, Any]]:
    """The rules of services/performance.record_ecog, applied to each observation."""
    cleaned = []
    for e in observations:
        values = problems.check(
            e.where,
            validate_ecog,
            score=e.score,
            observed_on=e.observed_on,
            weight_kg=e.weight_kg,
            note=e.note,
            today=today,
        )
        if values is not None:
            cleaned.append(values)
    return cleaned


def _clean_decisions(
    decisions: Sequence[DecisionData], today: dt.date, problems: _Problems
) -> list[tuple[dict[str, Any], MeetingData | None, bool, int | None, dict[str, Any]]]:
    cleaned = []
    for n, d in enumerate(decisions):
        before = len(problems.items)
        draft = DecisionDraft(
            code=d.code,
            rationale=d.rationale or "",
            decided_on=d.decided_on or "",
            presumed_primary=d.presumed_primary,
            regimen=d.regimen,
            biomarker=d.biomarker,
            alteration=d.alteration,
            target_site=d.target_site,
            local_modality=d.local_modality,
            workup_requested=d.workup_requested,
            plan=d.plan,
            ecog_at_decision=d.ecog_at_decision,
            attendees=d.attendees,
            follow_up_due=d.follow_up_due,
        )
        values = problems.check(d.where, validate_decision, draft, today)
        follow_up = {
            "treatment_started_on": problems.check(
                d.where, v.optional_date, "treatment_started_on", d.treatment_started_on
            ),
            "follow_up_done_on": problems.check(
                d.where,
                v.optional_date,
                "follow_up_done_on",
                d.follow_up_done_on,
                not_after=today,
            ),
        }
        if values is not None:
            problems.check(
                d.where,
                v.not_before,
                "treatment_started_on",
                follow_up["treatment_started_on"],
                "decided_on",
                values["decided_on"],
            )
        meeting = d.meeting
        if meeting is not None:
            problems.check(d.where, v.date, "meeting.date", meeting.meeting_date)
            problems.check(d.where, v.text, "meeting.title", meeting.title, 200)
        if d.amends is not None and not 0 <= d.amends < n:
            problems.items.append(Problem(d.where, "replaces", "must point to an earlier decision"))
        if len(problems.items) == before and values is not None:
            cleaned.append((values, meeting, d.superseded, d.amends, follow_up))
    return cleaned


def _clean_agenda(
    agenda: Sequence[AgendaData], problems: _Problems
) -> list[tuple[MeetingData, str | None]]:
    cleaned: list[tuple[MeetingData, str | None]] = []
    for entry in agenda:
        before = len(problems.items)
        day = problems.check("EpisodeOfCare", v.date, "agenda.date", entry.meeting.meeting_date)
        title = problems.check("EpisodeOfCare", v.text, "agenda.title", entry.meeting.title, 200)
        question = problems.check(
            "EpisodeOfCare", v.optional_text, "agenda.question", entry.question, v.MAX_LONG_TEXT
        )
        meeting = MeetingData(day, title) if day is not None and title is not None else None
        fresh = all(meeting != seen for seen, _ in cleaned)
        if len(problems.items) == before and meeting is not None and fresh:
            cleaned.append((meeting, question))
    return cleaned


def _clean_record(record: CaseRecord, today: dt.date) -> tuple[_CleanCase | None, list[Problem]]:
    problems = _Problems()
    referral = _clean_patient(record, today, problems)
    clean = _CleanCase(
        referral=referral,
        case_fields=_clean_case_fields(record.case, today, problems),
        investigations=_clean_investigations(record.investigations, today, problems),
        pathology=_clean_pathology(record.pathology_reports, today, problems),
        ihc_without_report=[],
        molecular=_clean_molecular(record.molecular_reports, today, problems),
        serum=_clean_serum(record.serum_markers, today, problems),
        ecog=_clean_ecog(record.ecog, today, problems),
        decisions=_clean_decisions(record.decisions, today, problems),
        agenda=_clean_agenda(record.agenda, problems),
    )
    for ihc in record.ihc_without_report:
        entries = _ihc_entries([ihc], ihc.where, problems)
        day = problems.check(ihc.where, _required_date, "reported_on", ihc.reported_on, today)
        if entries and day is not None:
            clean.ihc_without_report.append((entries[0], day))
    return (clean if not problems.items else None), problems.items


@dataclass(frozen=True)
class _ParsedImport:
    record: CaseRecord | None
    clean: _CleanCase | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]


def _with_pathway_start(record: CaseRecord, today: dt.date) -> tuple[CaseRecord, list[str]]:
    """A bundle published elsewhere (IPS, Synthea, mCODE) carries no referral: it comes
    in as a new referral whose pathway starts at the earliest finding imported from it,
    or today when nothing imported is dated; the report says which."""
    c = record.case
    if c.referral_date is not None or c.pathway_start is not None:
        return record, []
    dates = [
        day
        for day in (
            *(r.reported_on for r in record.pathology_reports),
            *(i.reported_on for r in record.pathology_reports for i in r.ihc),
            *(i.reported_on for i in record.ihc_without_report),
            *(m.reported_on for m in record.molecular_reports),
            *(s.measured_on for s in record.serum_markers),
            *(e.observed_on for e in record.ecog),
            *(i.requested_on for i in record.investigations),
            *(i.done_on for i in record.investigations),
            *(d.decided_on for d in record.decisions),
        )
        if day is not None and day <= today
    ]
    start = min(dates, default=today)
    why = "the earliest dated finding imported" if dates else "today: nothing imported is dated"
    note = (
        f"No referral or EpisodeOfCare in the bundle: imported as a new referral with "
        f"referral date and pathway start {start.isoformat()} ({why})."
    )
    case = dataclasses.replace(c, referral_date=start, pathway_start=start)
    return dataclasses.replace(record, case=case), [note]


def _parse_fhir(content: bytes, today: dt.date) -> _ParsedImport:
    """The bundle read and checked in full. A bundle refused as a whole (not JSON, not an
    R4 collection Bundle, no single Patient) raises MalformedFileError: one message, the
    command line's exit 2; refused values and entries come back as the report's problems."""
    try:
        parsed = record_from_bundle(content)
        if parsed.record is None:
            raise MalformedFileError(_whole_bundle_refusal(parsed.problems))
        record, started = _with_pathway_start(parsed.record, today)
        clean, problems = _clean_record(record, today)
    except (ArithmeticError, AttributeError, LookupError, RecursionError, TypeError) as error:
        # A valid R4 Bundle whose shape cupboard cannot follow: refuse it as a whole
        # rather than fail half-way; the detail is for the administrator's log.
        _log.warning("FHIR import: bundle not readable as a case", exc_info=error)
        raise MalformedFileError(
            "bundle: cannot be read as a cupboard case (its structure is not one cupboard "
            "reads; export the case from cupboard with identifiers)"
        ) from None
    return _ParsedImport(record, clean, (*parsed.problems, *problems), (*parsed.notes, *started))


def _whole_bundle_refusal(problems: Sequence[Problem]) -> str:
    if not problems:
        return "bundle: holds no case"
    more = len(problems) - 1
    return f"{problems[0]}" + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def _fhir_report(
    source: str, parsed: _ParsedImport, known: dict[str, _KnownPatient]
) -> ImportReport:
    record = parsed.record
    if record is None or parsed.problems:
        return ImportReport(source, (), (), parsed.problems, parsed.notes)
    p = record.patient
    mrn = normalise_mrn(p.mrn or "")
    item = ImportItem("Patient", mrn, p.name or "")
    existing = known.get(mrn_key(mrn))
    if existing is None:
        return ImportReport(source, (item,), (), (), parsed.notes)
    if _same_person(existing, p.name or "", p.date_of_birth):
        return ImportReport(source, (), (item,), (), parsed.notes)
    clash = _identity_clash("Patient", existing, mrn, p.name or "", p.date_of_birth)
    return ImportReport(source, (), (), (clash,), parsed.notes)


def preview_fhir_import(
    ctx: ServiceContext, content: bytes, source: str, today: dt.date | None = None
) -> ImportReport:
    """Check a case Bundle in full (structure with the R4B models, values with the form
    rules) and say what importing it would do; writes nothing."""
    ctx.require("import_data")
    today = today or dt.date.today()
    parsed = _parse_fhir(content, today)
    known: dict[str, _KnownPatient] = {}
    if parsed.record is not None and parsed.record.patient.mrn:
        with ctx.reading("import_data") as session:
            known = _known_patients(session)
    return _fhir_report(source, parsed, known)


def _meeting_for(
    session: Session,
    actor: Actor,
    meeting: MeetingData,
    attendees: list[dict[str, str]],
    reason: str,
) -> int:
    """The meeting of that date and title, created if this database does not have it."""
    found = session.scalar(
        select(MdtMeeting.id)
        .where(MdtMeeting.meeting_date == meeting.meeting_date, MdtMeeting.title == meeting.title)
        .order_by(MdtMeeting.id)
        .limit(1)
    )
    if found is not None:
        return found
    row = MdtMeeting(
        meeting_date=meeting.meeting_date,
        title=meeting.title.strip(),
        attendees=validate_attendees(attendees),
    )
    session.add(row)
    record_creation(session, actor, row, reason=reason)
    return row.id


def _write_case(session: Session, actor: Actor, clean: _CleanCase, reason: str) -> int:
    data = clean.referral
    _, case = add_referral(session, actor, data, reason, clean.case_fields)
    _add_workup(session, actor, case, data, reason, clean.investigations)

    def add(row: Any) -> Any:
        session.add(row)
        record_creation(session, actor, row, reason=reason)
        return row

    for values, panel, _ in clean.pathology:
        report = add(PathologyReport(case_id=case.id, **values))
        for entry in panel:
            add(
                IhcResult(
                    case_id=case.id,
                    pathology_report_id=report.id,
                    marker=entry.marker,
                    result=entry.result,
                    percentage=entry.percentage,
                    reported_on=values["reported_on"],
                )
            )
    for entry, day in clean.ihc_without_report:
        add(
            IhcResult(
                case_id=case.id,
                marker=entry.marker,
                result=entry.result,
                percentage=entry.percentage,
                reported_on=day,
            )
        )
    for values in clean.molecular:
        add(MolecularReport(case_id=case.id, **values))
    for values in clean.serum:
        add(SerumMarkerResult(case_id=case.id, **values))
    for values in clean.ecog:
        add(EcogObservation(case_id=case.id, **values))
    created: list[int] = []
    for values, meeting, superseded, amends, follow_up in clean.decisions:
        meeting_id = (
            _meeting_for(session, actor, meeting, values["attendees"], reason) if meeting else None
        )
        decision = add(
            Decision(
                case_id=case.id,
                **{**values, "meeting_id": meeting_id},
                superseded=superseded,
                amends_decision_id=created[amends] if amends is not None else None,
                **follow_up,
            )
        )
        created.append(decision.id)
    for meeting, question in clean.agenda:
        meeting_id = _meeting_for(session, actor, meeting, [], reason)
        last = session.scalar(
            select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting_id)
        )
        add(
            AgendaItem(
                meeting_id=meeting_id,
                case_id=case.id,
                position=(last or 0) + 1,
                question=question,
            )
        )
    # One event for the case as a whole, beside the create event of every row.
    record_event(session, actor, "import", "case", case.id, case_id=case.id, reason=reason)
    return case.id


def commit_fhir_import(
    ctx: ServiceContext, content: bytes, source: str, today: dt.date | None = None
) -> ImportResult:
    """Write the Bundle's case in one transaction, unless its MRN already exists."""
    ctx.require("import_data")
    today = today or dt.date.today()
    parsed = _parse_fhir(content, today)
    if parsed.clean is None or parsed.record is None:
        return ImportResult(source, (), (), parsed.problems)
    reason = f"imported from {source}"
    try:
        with ctx.writing("import_data") as session:
            report = _fhir_report(source, parsed, _known_patients(session))
            if not report.to_import:
                return ImportResult(source, (), report.already_exist, report.problems)
            case_id = _write_case(session, ctx.actor, parsed.clean, reason)
    except IntegrityError:
        raise ImportConflictError(
            "Another user registered this MRN while the import ran, so nothing was "
            "imported. Check the file again and retry."
        ) from None
    return ImportResult(source, (case_id,), (), ())


# --------------------------------------------------------------------------------------
# Cohort and queue exports


# The clinical columns come from the pages' readers, so that an export never disagrees
# with the screens: the cohort's histology, latest ECOG and favourable subtype from the
# profiles of case_record.load_profiles (as the MDT queue and the case page build them),
# the agenda's rows from queue.meeting_queue (what the MDT queue page lists).


def _cohort_rows(session: Session, today: dt.date) -> list[CohortRow]:
    pairs = list(session.execute(select(Case, Patient).join(Patient).order_by(Case.id)))
    batch = load_profiles(session, [case.id for case, _ in pairs], today)
    decisions: dict[int, list[Decision]] = defaultdict(list)
    for decision in session.scalars(
        select(Decision)
        .where(Decision.superseded.is_(False))
        .order_by(Decision.decided_on, Decision.id)
    ):
        decisions[decision.case_id].append(decision)
    meetings: dict[int, list[dt.date]] = defaultdict(list)
    for case_id, meeting_date in session.execute(
        select(AgendaItem.case_id, MdtMeeting.meeting_date)
        .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
        .order_by(MdtMeeting.meeting_date)
    ):
        meetings[case_id].append(meeting_date)
    result = []
    for case, patient in pairs:
        profile = batch.profiles[case.id]
        # The subtype assess_case names (guidance_for(profile).favourable_subtype, as
        # on the queue and the case page), without the rest of the assessment: the
        # same function the analytics page counts subtypes with.
        subtype = favourable_subtype(profile)
        ecog = batch.latest_ecog.get(case.id)
        made = decisions.get(case.id, [])
        first = made[0] if made else None
        started = [d.treatment_started_on for d in made if d.treatment_started_on]
        discussed = [d for d in meetings.get(case.id, []) if d <= today]
        result.append(
            CohortRow(
                case_id=case.id,
                pseudonym=patient.pseudonym,
                mrn=patient.mrn,
                name=patient.name,
                date_of_birth=patient.date_of_birth,
                sex=patient.sex,
                age_at_pathway_start=age_on(patient.date_of_birth, case.pathway_start),
                referral_date=case.referral_date,
                pathway_start=case.pathway_start,
                status=case.status,
                diagnostic_stage=case.diagnostic_stage,
                metastatic_sites=tuple(case.metastatic_sites or ()),
                lesion_count=case.lesion_count,
                histology=profile.histology,
                favourable_subtype=subtype.code if subtype else None,
                latest_ecog=ecog[0] if ecog else None,
                first_mdt_date=discussed[0] if discussed else None,
                mdt_discussions=len(discussed),
                first_decision_date=first.decided_on if first else None,
                decisions=tuple(d.code for d in made),
                treatment_started_on=min(started) if started else None,
                closing_reason=case.closing_reason,
                closed_on=case.closed_on,
                primary_found_site=case.primary_found_site,
            )
        )
    return result


def cohort_rows(ctx: ServiceContext, today: dt.date | None = None) -> list[CohortRow]:
    """One row per case for audit meetings (identifiers are dropped by the export)."""
    with ctx.reading("view_cases") as session:
        return _cohort_rows(session, today or dt.date.today())


@dataclass(frozen=True)
class _AgendaExtras:
    """The exported columns the MDT queue page does not show, read for its rows."""

    patients: dict[int, tuple[str, str, dt.date, str]]  # case: mrn, name, born, stage
    presented_by: dict[int, str | None]  # agenda item: who presents the case


def _agenda_extras(session: Session, shown: Sequence[queue.QueueRow]) -> _AgendaExtras:
    case_ids = [row.case_id for row in shown]
    item_ids = [row.agenda_item_id for row in shown if row.agenda_item_id is not None]
    patients = {
        case_id: (mrn, name, born, stage)
        for case_id, mrn, name, born, stage in session.execute(
            select(Case.id, Patient.mrn, Patient.name, Patient.date_of_birth, Case.diagnostic_stage)
            .join(Patient, Case.patient_id == Patient.id)
            .where(Case.id.in_(case_ids))
        )
    }
    presented_by = {
        item_id: presenter
        for item_id, presenter in session.execute(
            select(AgendaItem.id, AgendaItem.presented_by).where(AgendaItem.id.in_(item_ids))
        )
    }
    return _AgendaExtras(patients, presented_by)


def queue_rows(
    ctx: ServiceContext, meeting_id: int, today: dt.date | None = None
) -> list[QueueRow]:
    """A meeting's agenda as the MDT queue page lists it (:func:`queue.meeting_queue`,
    unfiltered: order, position, status, age, days, latest ECOG, favourable subtype,
    question, histology), with the columns that page does not show (identifiers,
    diagnostic stage, presenter) read for its cases afterwards."""
    today = today or dt.date.today()
    shown = queue.meeting_queue(ctx, meeting_id, today=today)  # checks view_cases
    if not shown:
        return []
    with ctx.reading("view_cases") as session:
        extras = _agenda_extras(session, shown)
    rows = []
    for row in shown:
        assert row.position is not None and row.agenda_item_id is not None  # on the agenda
        mrn, name, born, stage = extras.patients[row.case_id]
        rows.append(
            QueueRow(
                position=row.position,
                case_id=row.case_id,
                pseudonym=row.pseudonym,
                mrn=mrn,
                name=name,
                date_of_birth=born,
                age=row.age,
                sex=row.sex,
                metastatic_sites=row.sites,
                status=row.status,
                diagnostic_stage=stage,
                days_since_pathway_start=row.days_on_pathway,
                histology=row.histology,
                favourable_subtype=row.favourable_subtype,
                latest_ecog=row.ecog,
                question=row.question,
                presented_by=extras.presented_by.get(row.agenda_item_id),
            )
        )
    return rows


EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx")


def export_cohort(
    ctx: ServiceContext,
    fmt: str,
    *,
    include_identifiers: bool = False,
    today: dt.date | None = None,
) -> ExportFile:
    """The cohort as CSV or Excel; pseudonymised unless identifiers are chosen."""
    ctx.require("export_data")
    fmt = v.choice("format", fmt, EXPORT_FORMATS)
    today = today or dt.date.today()
    rows = cohort_rows(ctx, today)
    frame = cohort_frame(rows, include_identifiers=include_identifiers)
    exported = export_file(frame, fmt, f"cupboard-cohort-{today.isoformat()}", sheet="Cohort")
    _audit_export(
        ctx,
        "cohort",
        None,
        f"cohort {fmt}, {len(rows)} cases, {_identifiers_note(include_identifiers)}",
    )
    return exported


def export_queue(
    ctx: ServiceContext,
    meeting_id: int,
    fmt: str,
    *,
    include_identifiers: bool = False,
    today: dt.date | None = None,
) -> ExportFile:
    """A meeting's agenda as CSV or Excel; pseudonymised unless identifiers are chosen."""
    ctx.require("export_data")
    fmt = v.choice("format", fmt, EXPORT_FORMATS)
    today = today or dt.date.today()
    rows = queue_rows(ctx, meeting_id, today)
    frame = queue_frame(rows, include_identifiers=include_identifiers)
    exported = export_file(
        frame, fmt, f"cupboard-queue-meeting-{meeting_id}-{today.isoformat()}", sheet="Queue"
    )
    _audit_export(
        ctx,
        "mdt_meeting",
        meeting_id,
        f"queue {fmt}, {len(rows)} cases, {_identifiers_note(include_identifiers)}",
    )
    return exported
