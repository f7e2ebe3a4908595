"""Before clinic: the oncologist's summary of a case and its outcome letter (PDF).

The case is read once through ``cupboard.services.case_record`` (header, findings,
ECOG series, decisions, workup, timeline); this module selects what the letter to
the GP / referrer needs as a plain :class:`~cupboard.report.ClinicSummary`, and
``export_outcome_letter`` turns it into a PDF with the pure ``cupboard.report``,
recording every export in the audit trail.

Identifiers: the letter names the patient (name, date of birth, hospital number),
which a GP needs to file it; nothing else identifying (no phone, no address).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from cupboard.knowledge.decisions import DISCIPLINES
from cupboard.models import Case, Patient
from cupboard.report import ClinicSummary, LetterDecision, outcome_letter_pdf
from cupboard.services.audit import record_event
from cupboard.services.case_record import CaseRecord, DecisionRow, case_record, site_label
from cupboard.services.context import ServiceContext
from cupboard.services.referrals import ReferralView, case_referrals

__all__ = [
    "ClinicCase",
    "ClinicSummary",
    "ClinicSummaryView",
    "clinic_cases",
    "clinic_summary",
    "export_outcome_letter",
    "summary_from_record",
]

# The centre named on the letterhead; set per installation.
CENTRE_ENV = "CUPBOARD_CENTRE_NAME"
DEFAULT_CENTRE = "CUP multidisciplinary team"
EXPORT_REASON = "outcome letter (PDF) to the GP / referrer"


def centre_name() -> str:
    return os.environ.get(CENTRE_ENV, "").strip() or DEFAULT_CENTRE


def _attendees(attendees: tuple[dict[str, str], ...]) -> tuple[str, ...]:
    return tuple(
        f"{a.get('name', '')} ({DISCIPLINES.get(a.get('discipline', ''), a.get('discipline'))})"
        for a in attendees
    )


def _letter_decision(record: CaseRecord, decision: DecisionRow) -> LetterDecision:
    attendees = decision.attendees
    if not attendees and decision.meeting_id is not None:
        # A decision recorded without its own list takes the meeting's.
        meeting = next((a for a in record.agenda if a.meeting_id == decision.meeting_id), None)
        attendees = meeting.attendees if meeting else ()
    return LetterDecision(
        decided_on=decision.decided_on,
        label=decision.label,
        detail=decision.detail,
        rationale=decision.rationale,
        plan=decision.plan,
        ecog_at_decision=decision.ecog_at_decision,
        meeting_date=decision.meeting_date,
        attendees=_attendees(attendees),
        chair=decision.chair,
        treatment_started_on=decision.treatment_started_on,
        follow_up_due=decision.follow_up_due,
    )


def key_findings(record: CaseRecord) -> tuple[str, ...]:
    """The case's picture as the letter gives it: the latest histopathology, the latest
    IHC result per marker, every molecular report's results that still stand (an NGS
    panel does not erase the MSI of an earlier report), the latest serum values, and
    any results the reports contradict each other on."""
    findings = record.findings
    lines: list[str] = []
    if findings.pathology:
        report = findings.pathology[0]
        lines.append(f"Histopathology ({report.reported_on.isoformat()}): {report.summary}")
    if findings.ihc:
        latest: dict[str, str] = {}
        for row in findings.ihc:  # newest first: the first seen per marker is the latest
            latest.setdefault(row.marker, row.text)
        lines.append("Immunohistochemistry: " + ", ".join(latest.values()))
    lines.extend(record.picture.molecular_lines())
    if findings.serum:
        latest_serum: dict[str, str] = {}
        for row in findings.serum:
            latest_serum.setdefault(row.marker, f"{row.text} ({row.measured_on.isoformat()})")
        lines.append("Serum markers: " + "; ".join(latest_serum.values()))
    lines.extend(f"Reports disagree: {conflict.message}" for conflict in record.conflicts)
    return tuple(lines)


def outstanding_workup(record: CaseRecord) -> tuple[str, ...]:
    """Investigations still to request, requested or booked."""
    lines = []
    for row in record.workup:
        if not row.outstanding:
            continue
        when = f", booked for {row.booked_for.isoformat()}" if row.booked_for else ""
        lines.append(f"{row.label}: {row.status_label.lower()}{when}")
    return tuple(lines)


def referral_lines(referrals: Sequence[ReferralView]) -> tuple[str, ...]:
    """One line per referral for the letter: what, when, how far, why."""
    lines = []
    for r in referrals:
        status = f"requested {r.requested_on.isoformat()}"
        if r.status != "requested":
            status += f"; {r.status_label.lower()} {r.status_on.isoformat()}"
        lines.append(f"{r.label}: {status}. Reason: {r.reason}")
    return tuple(lines)


def summary_from_record(
    record: CaseRecord,
    *,
    recipient: str | None,
    prepared_on: dt.date,
    prepared_by: str,
    centre: str,
    referrals: Sequence[ReferralView] = (),
) -> ClinicSummary:
    """Select what the outcome letter says from a case record (pure)."""
    header = record.header
    # The working diagnosis as the oncologist last set it (services.cases.set_diagnostic_stage).
    diagnosis = header.diagnostic_stage_label
    if header.primary_found_site:
        diagnosis = f"Primary found: {site_label(header.primary_found_site)}"
    contacts = []
    if header.navigator:
        contacts.append(f"CUP nurse / key worker: {header.navigator}")
    if header.oncologist:
        contacts.append(f"Responsible oncologist: {header.oncologist}")
    contacts.append(f"{centre} (please quote hospital number {header.mrn})")
    return ClinicSummary(
        centre=centre,
        prepared_on=prepared_on,
        prepared_by=prepared_by,
        pseudonym=header.pseudonym,
        patient_name=header.name,
        date_of_birth=header.date_of_birth,
        mrn=header.mrn,
        recipient=recipient,
        diagnosis=diagnosis,
        sites=header.site_labels,
        pathway_start=header.pathway_start,
        decisions=tuple(_letter_decision(record, d) for d in record.current_decisions),
        ecog=tuple((p.observed_on, p.score) for p in record.ecog),
        findings=key_findings(record),
        outstanding=outstanding_workup(record),
        referrals=referral_lines(referrals),
        contacts=tuple(contacts),
    )


@dataclass(frozen=True)
class ClinicCase:
    case_id: int
    pseudonym: str
    status: str
    pathway_start: dt.date


def clinic_cases(ctx: ServiceContext, *, mine: bool, limit: int = 200) -> list[ClinicCase]:
    """Open cases to pick from: the signed-in oncologist's own, or the most recently
    started ones (newest first, at most ``limit``)."""
    query = (
        select(Case.id, Patient.pseudonym, Case.status, Case.pathway_start)
        .join(Patient, Patient.id == Case.patient_id)
        .where(Case.status != "closed")
        .order_by(Case.pathway_start.desc(), Case.id.desc())
        .limit(limit)
    )
    if mine:
        query = query.where(Case.oncologist_id == ctx.actor.user_id)
    with ctx.reading("view_cases") as session:
        return [ClinicCase(*row) for row in session.execute(query)]


@dataclass(frozen=True)
class ClinicSummaryView:
    """The screen's read model: the full case record and the letter it would send."""

    record: CaseRecord
    letter: ClinicSummary
    referrals: tuple[ReferralView, ...] = ()


def clinic_summary(
    ctx: ServiceContext, case_id: int, today: dt.date | None = None
) -> ClinicSummaryView:
    """The before-clinic summary of one case (any role that may view cases; the
    record's read checks it)."""
    today = today or dt.date.today()
    record = case_record(ctx, case_id, today)
    referrals = tuple(case_referrals(ctx, case_id))
    letter = summary_from_record(
        record,
        recipient=record.header.referrer_name,
        prepared_on=today,
        prepared_by=ctx.actor.display_name,
        centre=centre_name(),
        referrals=referrals,
    )
    return ClinicSummaryView(record, letter, referrals)


def export_outcome_letter(ctx: ServiceContext, case_id: int, today: dt.date | None = None) -> bytes:
    """The outcome letter as PDF bytes; every export is recorded in the audit trail."""
    letter = clinic_summary(ctx, case_id, today).letter
    pdf = outcome_letter_pdf(letter)
    with ctx.writing("export_data") as session:
        record_event(
            session, ctx.actor, "export", "case", case_id, case_id=case_id, reason=EXPORT_REASON
        )
    return pdf
