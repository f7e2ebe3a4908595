"""Download buttons for exports and the import report, for any page to drop in.

Each export is built only when the user clicks (``cupboard.ui.downloads``), so the
service checks the account at that moment and the audit event it records is a real
download, not a page view; the file leaves the server soon after. Identifiers are a
deliberate choice: an unticked "include names and MRNs" box by the button.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from cupboard.export import MEDIA_TYPES
from cupboard.permissions import may
from cupboard.services.context import ServiceContext
from cupboard.services.interop import (
    EXPORT_FORMATS,
    ImportReport,
    ImportResult,
    export_case_fhir,
    export_cohort,
    export_queue,
    fhir_file_name,
)
from cupboard.ui.downloads import download_button
from cupboard.ui.text import escape_markdown

IDENTIFIERS_LABEL = "Include names, MRNs and birth dates (identifiable)"
IDENTIFIERS_HELP = (
    "Off by default: the export is pseudonymised. Turn on only when the receiver "
    "needs to identify the patient (e.g. a transfer). Every download is audited."
)


def fhir_download_button(ctx: ServiceContext, case_id: int) -> None:
    """The case as a FHIR R4 Bundle (mCODE). For the case page."""
    if not may(ctx.actor.role, "export_data"):
        return
    identifiers = st.checkbox(
        IDENTIFIERS_LABEL, key=f"fhir_identifiers_{case_id}", help=IDENTIFIERS_HELP
    )

    def build() -> bytes:
        return export_case_fhir(ctx, case_id, include_identifiers=identifiers).content

    download_button(
        "Download FHIR bundle (JSON)",
        build,
        file_name=fhir_file_name(case_id, identifiers, dt.date.today()),
        mime="application/fhir+json",
        key=f"fhir_download_{case_id}",
        help="HL7 FHIR R4 Bundle following mCODE; imports back into cupboard.",
    )


def _format_choice(key: str) -> str:
    fmt = st.radio(
        "Format",
        EXPORT_FORMATS,
        format_func=lambda f: {"csv": "CSV", "xlsx": "Excel (.xlsx)"}[f],
        horizontal=True,
        key=f"{key}_format",
    )
    return str(fmt)


def cohort_download_buttons(ctx: ServiceContext, key: str = "cohort_export") -> None:
    """One row per case, for audit meetings (CSV or Excel)."""
    if not may(ctx.actor.role, "export_data"):
        return
    fmt = _format_choice(key)
    identifiers = st.checkbox(IDENTIFIERS_LABEL, key=f"{key}_identifiers", help=IDENTIFIERS_HELP)

    def build() -> bytes:
        return export_cohort(ctx, fmt, include_identifiers=identifiers).content

    download_button(
        "Download cohort",
        build,
        file_name=f"cupboard-cohort-{dt.date.today().isoformat()}.{fmt}",
        mime=MEDIA_TYPES[fmt],
        key=f"{key}_download",
    )


def queue_download_buttons(ctx: ServiceContext, meeting_id: int, key: str = "queue_export") -> None:
    """The cases on one meeting's agenda (CSV or Excel)."""
    if not may(ctx.actor.role, "export_data"):
        return
    fmt = _format_choice(f"{key}_{meeting_id}")
    identifiers = st.checkbox(
        IDENTIFIERS_LABEL, key=f"{key}_{meeting_id}_identifiers", help=IDENTIFIERS_HELP
    )

    def build() -> bytes:
        return export_queue(ctx, meeting_id, fmt, include_identifiers=identifiers).content

    download_button(
        "Download agenda",
        build,
        file_name=f"cupboard-queue-meeting-{meeting_id}-{dt.date.today().isoformat()}.{fmt}",
        mime=MEDIA_TYPES[fmt],
        key=f"{key}_{meeting_id}_download",
    )


def import_report(report: ImportReport, key: str) -> None:
    """What an import would do, before anything is written (tables, never HTML)."""
    st.text(f"{report.source}: {report.summary}")
    if report.problems:
        st.error("Refused: these rows are not imported. Fix them and upload the file again.")
        st.dataframe(
            pd.DataFrame(
                [(p.where, p.field, p.message) for p in report.problems],
                columns=["where", "field", "reason"],
            ),
            hide_index=True,
            key=f"{key}_problems",
        )
    if report.already_exist:
        st.info("Already exist, skipped (matched on MRN): importing again never duplicates.")
        st.dataframe(
            pd.DataFrame(
                [(i.where, i.mrn, i.name) for i in report.already_exist],
                columns=["where", "mrn", "name"],
            ),
            hide_index=True,
            key=f"{key}_existing",
        )
    if report.to_import:
        st.success(f"Ready to import: {len(report.to_import)}")
        st.dataframe(
            pd.DataFrame(
                [(i.where, i.mrn, i.name) for i in report.to_import],
                columns=["where", "mrn", "name"],
            ),
            hide_index=True,
            key=f"{key}_ready",
        )
    for note in report.notes:
        st.caption(escape_markdown(note))


def import_result(result: ImportResult) -> None:
    st.success(escape_markdown(f"Imported from {result.source}: {result.summary}."))
