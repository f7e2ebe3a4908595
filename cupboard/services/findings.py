"""Findings: histopathology, IHC, molecular profile and serum markers.

Findings are added, never rewritten: a new report supersedes an older one by date,
and both stay in the history. The workup follows each finding in the same
transaction (:mod:`cupboard.services.workup_follows`): a tissue report marks the biopsy
and histopathology done, and an investigation the finding makes required is requested.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cupboard import validation as v
from cupboard.errors import ValidationError
from cupboard.knowledge.histology import (
    DIFFERENTIATION,
    HISTOLOGY_CATEGORIES,
    MMR_STATUSES,
    MSI_STATUSES,
    SPECIMEN_TYPES,
)
from cupboard.knowledge.markers import (
    IHC_RESULTS,
    SERUM_MARKERS_BY_KEY,
    canonical_ihc_marker,
    canonical_serum_marker,
    marker_key,
)
from cupboard.knowledge.sites import METASTATIC_SITES, PRIMARY_SITES
from cupboard.models import IhcResult, MolecularReport, PathologyReport, SerumMarkerResult
from cupboard.services.audit import record_creation
from cupboard.services.cases import get_case
from cupboard.services.context import ServiceContext
from cupboard.services.workup_follows import mark_tissue_workup_done, request_newly_required


@dataclass(frozen=True)
class IhcEntry:
    marker: str
    result: str
    percentage: float | None = None


def validate_ihc(entries: Sequence[IhcEntry]) -> list[IhcEntry]:
    cleaned: list[IhcEntry] = []
    seen: set[str] = set()
    for entry in entries:
        name = canonical_ihc_marker(entry.marker) if isinstance(entry.marker, str) else None
        if name is None:
            # The typed name is quoted in the message, never made part of the field name:
            # it may hold anything (a line break would split the one-line refusal).
            raise ValidationError("ihc", f"{v.shown(entry.marker)} is not a known IHC marker")
        if name in seen:
            raise ValidationError(f"ihc.{name}", "is listed twice")
        seen.add(name)
        result = v.choice(f"ihc.{name}", entry.result, IHC_RESULTS)
        percentage = v.optional_number(f"ihc.{name}.percentage", entry.percentage, 0, 100)
        cleaned.append(IhcEntry(name, result, percentage))
    return cleaned


def add_pathology_report(
    ctx: ServiceContext,
    case_id: int,
    *,
    histology: str,
    reported_on: dt.date | str,
    differentiation: str | None = None,
    biopsy_site: str | None = None,
    specimen_type: str | None = None,
    pathologist: str | None = None,
    comment: str | None = None,
    ihc: Sequence[IhcEntry] = (),
    today: dt.date | None = None,
) -> int:
    """A histopathology report with its IHC panel; returns the report id."""
    today = today or dt.date.today()
    histology = v.choice("histology", histology, HISTOLOGY_CATEGORIES)
    reported = v.date("reported_on", reported_on, not_after=today)
    differentiation = v.optional_choice("differentiation", differentiation, DIFFERENTIATION)
    biopsy_site = v.optional_choice("biopsy_site", biopsy_site, METASTATIC_SITES)
    specimen_type = v.optional_choice("specimen_type", specimen_type, SPECIMEN_TYPES)
    pathologist = v.optional_identity_text("pathologist", pathologist, 120)
    comment = v.optional_text("comment", comment, v.MAX_LONG_TEXT)
    panel = validate_ihc(ihc)
    with ctx.writing("record_pathology") as session:
        get_case(session, case_id)
        report = PathologyReport(
            case_id=case_id,
            histology=histology,
            differentiation=differentiation,
            biopsy_site=biopsy_site,
            specimen_type=specimen_type,
            reported_on=reported,
            pathologist=pathologist,
            comment=comment,
        )
        session.add(report)
        record_creation(session, ctx.actor, report)
        for entry in panel:
            row = IhcResult(
                case_id=case_id,
                pathology_report_id=report.id,
                marker=entry.marker,
                result=entry.result,
                percentage=entry.percentage,
                reported_on=reported,
            )
            session.add(row)
            record_creation(session, ctx.actor, row)
        cause = f"the histopathology report of {reported.isoformat()}"
        mark_tissue_workup_done(session, ctx.actor, case_id, reported, cause)
        request_newly_required(session, ctx.actor, case_id, today, cause)
        return report.id


def add_ihc_results(
    ctx: ServiceContext,
    case_id: int,
    entries: Sequence[IhcEntry],
    reported_on: dt.date | str,
    pathology_report_id: int | None = None,
    today: dt.date | None = None,
) -> list[int]:
    """Additional IHC stains (e.g. a second panel on the same block)."""
    today = today or dt.date.today()
    reported = v.date("reported_on", reported_on, not_after=today)
    panel = validate_ihc(entries)
    if not panel:
        raise ValidationError("ihc", "add at least one marker")
    with ctx.writing("record_pathology") as session:
        get_case(session, case_id)
        ids = []
        for entry in panel:
            row = IhcResult(
                case_id=case_id,
                pathology_report_id=pathology_report_id,
                marker=entry.marker,
                result=entry.result,
                percentage=entry.percentage,
                reported_on=reported,
            )
            session.add(row)
            record_creation(session, ctx.actor, row)
            ids.append(row.id)
        cause = f"the IHC panel of {reported.isoformat()}"
        mark_tissue_workup_done(session, ctx.actor, case_id, reported, cause)
        request_newly_required(session, ctx.actor, case_id, today, cause)
        return ids


@dataclass(frozen=True)
class MolecularFindings:
    reported_on: dt.date | str
    msi_status: str | None = None
    mmr_status: str | None = None
    tmb: float | None = None
    pdl1_tps: float | None = None
    pdl1_cps: float | None = None
    alterations: tuple[str, ...] = field(default_factory=tuple)
    tissue_of_origin_site: str | None = None
    tissue_of_origin_confidence: float | None = None
    lab: str | None = None


def validate_molecular(findings: MolecularFindings, today: dt.date) -> dict[str, Any]:
    """The cleaned column values of a molecular report, or ValidationError."""
    alterations = [v.text(f"alterations[{i}]", a, 120) for i, a in enumerate(findings.alterations)]
    site = v.optional_choice("tissue_of_origin_site", findings.tissue_of_origin_site, PRIMARY_SITES)
    confidence = v.optional_number(
        "tissue_of_origin_confidence", findings.tissue_of_origin_confidence, 0, 1
    )
    if confidence is not None and site is None:
        raise ValidationError("tissue_of_origin_site", "name the site the confidence refers to")
    return {
        "reported_on": v.date("reported_on", findings.reported_on, not_after=today),
        "msi_status": v.optional_choice("msi_status", findings.msi_status, MSI_STATUSES),
        "mmr_status": v.optional_choice("mmr_status", findings.mmr_status, MMR_STATUSES),
        "tmb": v.optional_number("tmb", findings.tmb, 0, 1000),
        "pdl1_tps": v.optional_number("pdl1_tps", findings.pdl1_tps, 0, 100),
        "pdl1_cps": v.optional_number("pdl1_cps", findings.pdl1_cps, 0, 100),
        "alterations": alterations,
        "tissue_of_origin_site": site,
        "tissue_of_origin_confidence": confidence,
        "lab": v.optional_text("lab", findings.lab, 120),
    }


def add_molecular_report(
    ctx: ServiceContext, case_id: int, findings: MolecularFindings, today: dt.date | None = None
) -> int:
    today = today or dt.date.today()
    values = validate_molecular(findings, today)
    with ctx.writing("record_molecular") as session:
        get_case(session, case_id)
        report = MolecularReport(case_id=case_id, **values)
        session.add(report)
        record_creation(session, ctx.actor, report)
        cause = f"the molecular report of {values['reported_on'].isoformat()}"
        request_newly_required(session, ctx.actor, case_id, today, cause)
        return report.id


def validate_serum_marker(
    *,
    marker: object,
    value: object,
    measured_on: object,
    unit: object = None,
    upper_limit_normal: object = None,
    today: dt.date,
) -> dict[str, Any]:
    """The cleaned column values of a serum marker result, or ValidationError."""
    code = canonical_serum_marker(marker) if isinstance(marker, str) else None
    if code is None:
        raise ValidationError("marker", f"is not a known serum marker: {marker!r}")
    default_unit = SERUM_MARKERS_BY_KEY[marker_key(code)].default_unit
    return {
        "marker": code,
        "value": v.number("value", value, 0, 1e7),
        "unit": v.optional_text("unit", unit, 16) or default_unit,
        "upper_limit_normal": v.optional_number("upper_limit_normal", upper_limit_normal, 0, 1e7),
        "measured_on": v.date("measured_on", measured_on, not_after=today),
    }


def add_serum_marker(
    ctx: ServiceContext,
    case_id: int,
    *,
    marker: str,
    value: float,
    measured_on: dt.date | str,
    unit: str | None = None,
    upper_limit_normal: float | None = None,
    today: dt.date | None = None,
) -> int:
    today = today or dt.date.today()
    values = validate_serum_marker(
        marker=marker,
        value=value,
        measured_on=measured_on,
        unit=unit,
        upper_limit_normal=upper_limit_normal,
        today=today,
    )
    with ctx.writing("record_serum_marker") as session:
        get_case(session, case_id)
        row = SerumMarkerResult(case_id=case_id, **values)
        session.add(row)
        record_creation(session, ctx.actor, row)
        cause = f"{values['marker']} of {values['measured_on'].isoformat()}"
        request_newly_required(session, ctx.actor, case_id, today, cause)
        return row.id
