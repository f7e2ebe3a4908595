"""Panels of one case, shared by the case page and meeting mode.

Each panel arranges widgets and calls services; clinical reasoning comes from
:mod:`cupboard.guidance`, figures from :mod:`cupboard.charts.ecog`. User text is shown
with ``st.text``/``st.dataframe`` or escaped inside markdown, never as HTML.

Writes that change an existing row (a status, an investigation, an amendment) run in
a button callback with the version the user saw when the page was drawn, so a
change saved by someone else in the meantime is refused as a conflict. New rows
(findings, ECOG, decisions) need no version.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cupboard.charts.ecog import ecog_figure
from cupboard.errors import (
    CupboardError,
    PermissionDeniedError,
    SessionExpiredError,
    ValidationError,
)
from cupboard.guidance import CaseProfile, Guidance, decision_warnings
from cupboard.knowledge.decisions import (
    DECISION_CODES,
    DECISION_KINDS_BY_CODE,
    DECISION_LABELS,
    DISCIPLINES,
    LOCAL_MODALITIES,
)
from cupboard.knowledge.histology import (
    DIFFERENTIATION,
    HISTOLOGY_CATEGORIES,
    MMR_STATUSES,
    MSI_STATUSES,
    SPECIMEN_TYPES,
)
from cupboard.knowledge.investigations import (
    INVESTIGATION_STATUS_CODES,
    INVESTIGATION_STATUS_LABELS,
    INVESTIGATIONS_BY_CODE,
)
from cupboard.knowledge.markers import IHC_MARKERS, IHC_RESULTS, SERUM_MARKERS
from cupboard.knowledge.pathway import (
    CASE_STATUS_CODES,
    CASE_STATUS_LABELS,
    CLOSING_REASONS,
    DIAGNOSTIC_STAGES,
)
from cupboard.knowledge.performance import ECOG_GRADES
from cupboard.knowledge.sites import METASTATIC_SITES, PRIMARY_SITES, SYMPTOMS
from cupboard.knowledge.sources import SOURCES
from cupboard.permissions import PERMISSIONS, may
from cupboard.services import case_record, queue
from cupboard.services.case_record import (
    CaseHeader,
    CasePicture,
    CaseRecord,
    DecisionRow,
    EcogPoint,
    Findings,
    TimelineEvent,
    WorkupRow,
)
from cupboard.services.cases import STAGE_ACTION, set_diagnostic_stage, update_case
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, amend_decision, record_decision
from cupboard.services.findings import (
    IhcEntry,
    MolecularFindings,
    add_ihc_results,
    add_molecular_report,
    add_pathology_report,
    add_serum_marker,
)
from cupboard.services.performance import record_ecog
from cupboard.services.workup import InvestigationEdit, save_workup_edits
from cupboard.ui.cache import fresh, stored
from cupboard.ui.guard import fragment_context
from cupboard.ui.text import escape_markdown as esc

# ---------------------------------------------------------------------------------
# Messages that survive the rerun after a save

_FLASH = "case_panels_flash"


def flash(scope: str, kind: str, message: str) -> None:
    """Remember a message for ``scope`` to show on the next run (kind: success|error)."""
    messages = dict(st.session_state.get(_FLASH, {}))
    messages[scope] = (kind, message)
    st.session_state[_FLASH] = messages


def show_flash(scope: str) -> None:
    messages = dict(st.session_state.get(_FLASH, {}))
    item = messages.pop(scope, None)
    if item is None:
        return
    st.session_state[_FLASH] = messages
    kind, message = item
    if kind == "success":
        st.success(esc(message), icon=":material/check_circle:")
    else:
        st.error(esc(message), icon=":material/block:")


def _fmt_date(day: dt.date | None) -> str:
    return day.isoformat() if day else "—"


# ---------------------------------------------------------------------------------
# Header


def identity_lines(header: CaseHeader) -> list[str]:
    """Identifying details, only for screens that are not de-identified."""
    lines = [
        f"Name: {header.name}",
        f"MRN: {header.mrn}",
        f"Born: {header.date_of_birth.isoformat()}",
    ]
    if header.phone:
        lines.append(f"Phone: {header.phone}")
    return lines


def working_diagnosis(header: CaseHeader) -> str:
    """The working diagnosis in the clinic's words: "Provisional CUP", "Primary found: Lung"."""
    if header.primary_found_site:
        return f"Primary found: {PRIMARY_SITES.get(header.primary_found_site, '')}"
    return header.diagnostic_stage_label


def case_caption(header: CaseHeader) -> str:
    """Pseudonymous summary line: sex, age, working diagnosis, status, pathway day,
    sites, earlier cancer."""
    sites = ", ".join(header.site_labels) or "sites not recorded"
    lesions = f" · {header.lesion_count} lesions" if header.lesion_count is not None else ""
    prior = f" · prior malignancy: {header.prior_malignancy}" if header.prior_malignancy else ""
    return (
        f"{header.sex}, {header.age} y · {working_diagnosis(header)} · {header.status_label} · "
        f"pathway day {header.pathway_day} · {sites}{lesions}{prior}"
    )


def case_banner(header: CaseHeader, *, deidentified: bool) -> None:
    st.title(f"Case {header.pseudonym}")
    st.markdown(f"**{esc(case_caption(header))}**")
    if not deidentified:
        st.text("   ·   ".join(identity_lines(header)))


def status_control(ctx: ServiceContext, header: CaseHeader, *, key: str) -> None:
    """Change the case's status (navigator, oncologist, chair); a conflict is refused."""
    show_flash(f"{key}_status")
    if not may(ctx.actor.role, "update_case"):
        st.caption(f"Status: {header.status_label}")
        return
    status_key = f"{key}_status_{header.version}"
    closing = st.session_state.get(status_key, header.status) == "closed"
    cols = st.columns([3, 3, 3, 2] if closing else [3, 2, 6], vertical_alignment="bottom")
    status = cols[0].selectbox(
        "Case status",
        CASE_STATUS_CODES,
        index=CASE_STATUS_CODES.index(header.status),
        format_func=CASE_STATUS_LABELS.__getitem__,
        key=status_key,
    )
    reason_key = f"{key}_closing_{header.version}"
    site_key = f"{key}_found_{header.version}"
    if closing:
        reason = cols[1].selectbox(
            "Closing reason",
            list(CLOSING_REASONS),
            index=None,
            format_func=CLOSING_REASONS.__getitem__,
            key=reason_key,
        )
        if reason == "primary_found":
            cols[2].selectbox(
                "Primary found",
                list(PRIMARY_SITES),
                index=None,
                format_func=PRIMARY_SITES.__getitem__,
                key=site_key,
            )
    cols[-1 if closing else 1].button(
        "Save status",
        key=f"{key}_status_save",
        disabled=status == header.status,
        on_click=_save_status,
        args=(ctx, header.case_id, header.version, key),
    )


def diagnosis_control(ctx: ServiceContext, header: CaseHeader, *, key: str) -> None:
    """The working diagnosis (MUO → provisional CUP → confirmed CUP → primary found),
    changed by an oncologist or the chair; others read it in the banner
    (:func:`case_caption`). A change saved by someone else since the page was drawn is
    refused as a conflict."""
    show_flash(f"{key}_stage")
    if not may(ctx.actor.role, STAGE_ACTION):
        return
    stage_key = f"{key}_stage_{header.version}"
    site_key = f"{key}_stage_site_{header.version}"
    stages = list(DIAGNOSTIC_STAGES)
    found = st.session_state.get(stage_key, header.diagnostic_stage) == "primary_found"
    cols = st.columns([3, 3, 2] if found else [3, 2, 3], vertical_alignment="bottom")
    stage = cols[0].selectbox(
        "Working diagnosis",
        stages,
        index=stages.index(header.diagnostic_stage),
        format_func=DIAGNOSTIC_STAGES.__getitem__,
        key=stage_key,
    )
    site = header.primary_found_site
    if found:
        sites = list(PRIMARY_SITES)
        site = cols[1].selectbox(
            "Primary",
            sites,
            index=sites.index(site) if site in sites else None,
            format_func=PRIMARY_SITES.__getitem__,
            key=site_key,
        )
    cols[-1].button(
        "Save diagnosis",
        key=f"{key}_stage_save",
        disabled=(stage, site) == (header.diagnostic_stage, header.primary_found_site),
        on_click=_save_diagnosis,
        args=(ctx, header.case_id, header.version, key),
    )


# Pregnancy as the control offers it; nothing chosen is "not recorded".
_PREGNANCY = {"pregnant": "Pregnant", "not_pregnant": "Not pregnant"}
_PREGNANT_VALUE = {"pregnant": True, "not_pregnant": False}


def symptoms_control(ctx: ServiceContext, header: CaseHeader, *, key: str) -> None:
    """Symptoms that direct the workup and, for a woman, pregnancy: part of the case's
    picture the guidance reads. Runs only while open: most visits do not change them."""
    show_flash(f"{key}_symptoms")
    shown = ", ".join(SYMPTOMS.get(s, s) for s in header.symptoms) or "none recorded"
    if not may(ctx.actor.role, "update_case"):
        st.caption(esc(f"Symptoms: {shown}"))
        return
    box = st.expander(
        f"Symptoms: {shown}",
        icon=":material/stethoscope:",
        key=f"{key}_symptoms_box",
        on_change="rerun",
    )
    if not box.open:
        return
    with box:
        st.multiselect(
            "Symptoms that direct the workup",
            list(SYMPTOMS),
            default=list(header.symptoms),
            format_func=SYMPTOMS.__getitem__,
            key=f"{key}_symptoms_{header.version}",
        )
        if header.sex == "female":
            st.segmented_control(
                "Pregnancy",
                list(_PREGNANCY),
                default={True: "pregnant", False: "not_pregnant"}.get(header.pregnant),
                format_func=_PREGNANCY.__getitem__,
                key=f"{key}_pregnant_{header.version}",
            )
        st.button(
            "Save symptoms",
            key=f"{key}_symptoms_save",
            on_click=_save_symptoms,
            args=(ctx, header.case_id, header.version, header.sex, key),
        )


def _save_symptoms(
    ctx: ServiceContext, case_id: int, seen_version: int, sex: str, key: str
) -> None:
    changes: dict[str, Any] = {
        "symptoms": list(st.session_state.get(f"{key}_symptoms_{seen_version}") or ())
    }
    if sex == "female":
        chosen = st.session_state.get(f"{key}_pregnant_{seen_version}")
        changes["pregnant"] = _PREGNANT_VALUE.get(chosen or "")
    try:
        update_case(ctx, case_id, seen_version, changes)
    except CupboardError as error:
        flash(f"{key}_symptoms", "error", str(error))
    else:
        flash(f"{key}_symptoms", "success", "Symptoms saved.")


def _save_diagnosis(ctx: ServiceContext, case_id: int, seen_version: int, key: str) -> None:
    stage = st.session_state.get(f"{key}_stage_{seen_version}")
    site = st.session_state.get(f"{key}_stage_site_{seen_version}")
    try:
        set_diagnostic_stage(
            ctx,
            case_id,
            seen_version,
            stage,
            primary_site=site if stage == "primary_found" else None,
        )
    except CupboardError as error:
        flash(f"{key}_stage", "error", str(error))
    else:
        flash(f"{key}_stage", "success", f"Working diagnosis: {DIAGNOSTIC_STAGES[stage]}.")


def _save_status(ctx: ServiceContext, case_id: int, seen_version: int, key: str) -> None:
    status = st.session_state.get(f"{key}_status_{seen_version}")
    changes: dict[str, Any] = {"status": status}
    if status == "closed":
        changes["closing_reason"] = st.session_state.get(f"{key}_closing_{seen_version}")
        site = st.session_state.get(f"{key}_found_{seen_version}")
        if site:
            changes["primary_found_site"] = site
    try:
        update_case(ctx, case_id, seen_version, changes)
    except CupboardError as error:
        flash(f"{key}_status", "error", str(error))
    else:
        flash(f"{key}_status", "success", f"Status changed to {CASE_STATUS_LABELS[status]}.")


# ---------------------------------------------------------------------------------
# Workup

_WORKUP_DATES = {
    "Requested": "requested_on",
    "Booked for": "booked_for",
    "Done": "done_on",
    "Reported": "reported_on",
}
_WORKUP_TEXTS = {"Result": "result_text", "Responsible": "responsible"}
_STATUS_BY_LABEL = {label: code for code, label in INVESTIGATION_STATUS_LABELS.items()}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _before_mdt(row: WorkupRow) -> str:
    """Whether the guidance needs it before the MDT, and why, in one cell: the flag
    and its reason side by side (one column fewer to draw on every save, issue 8)."""
    if row.missing_before_mdt:
        flag = "⚠ missing"
    elif row.required:
        flag = "✓ required"
    else:
        return ""
    return f"{flag}: {row.required_reason}" if row.required_reason else flag


def _text_column(values: list[str]) -> Any:
    # A plain object array: the quickest to build, and the editor converts it as fast
    # as pandas' Arrow-backed strings (measured, issue 8). No cell is None: empty is "".
    return np.array(values, dtype=object)


def workup_frame(rows: Sequence[WorkupRow]) -> pd.DataFrame:
    """The workup as the editor shows it, one row per investigation."""
    frame = pd.DataFrame(
        {
            "Investigation": _text_column([r.label for r in rows]),
            "Before MDT": _text_column([_before_mdt(r) for r in rows]),
            "Status": _text_column([r.status for r in rows]),
            # datetime64 so that an empty date shows empty (NaT), not "None"; numpy
            # converts the dates directly (pd.to_datetime per column costs far more).
            **{
                column: np.array([getattr(r, field) for r in rows], dtype="datetime64[s]")
                for column, field in _WORKUP_DATES.items()
            },
            **{
                column: _text_column([getattr(r, field) or "" for r in rows])
                for column, field in _WORKUP_TEXTS.items()
            },
        }
    )
    # Column names as plain objects: pandas 3 stores them as Arrow-backed strings,
    # which the editor walks several times per column; this costs nothing here and
    # saves ~0.5 ms on every draw of the editor (measured, issue 8).
    frame.columns = _WORKUP_FRAME_COLUMNS
    return frame


_WORKUP_FRAME_COLUMNS = pd.Index(
    ["Investigation", "Before MDT", "Status", *_WORKUP_DATES, *_WORKUP_TEXTS], dtype=object
)


def _cell_date(value: object) -> object:
    """An edited date cell as the service reads it (ISO text, or None when cleared)."""
    if value is None or value == "" or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str) and _ISO_DAY.match(value):
        return value[:10]
    return value  # left for the service to refuse, naming the field


def _cell_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value)
    return text if text.strip() else None


def workup_changes(
    rows: Sequence[WorkupRow], edited_rows: dict[Any, dict[str, Any]]
) -> list[tuple[WorkupRow, dict[str, Any]]]:
    """The changes an editor's ``edited_rows`` make, per investigation, unchanged
    values left out (so that a save writes and audits only real changes)."""
    result = []
    for index, cells in sorted(edited_rows.items(), key=lambda item: int(item[0])):
        row = rows[int(index)]
        changes: dict[str, Any] = {}
        for column, value in cells.items():
            if column == "Status":
                status = _STATUS_BY_LABEL.get(str(value), value)
                if status != row.status:
                    changes["status"] = status
            elif column in _WORKUP_DATES:
                field = _WORKUP_DATES[column]
                new = _cell_date(value)
                old = getattr(row, field)
                if (old.isoformat() if old else None) != (
                    new.isoformat() if isinstance(new, dt.date) else new
                ):
                    changes[field] = new
            elif column in _WORKUP_TEXTS:
                field = _WORKUP_TEXTS[column]
                new_text = _cell_text(value)
                if new_text != getattr(row, field):
                    changes[field] = new_text
        if changes:
            result.append((row, changes))
    return result


def _workup_keys(case_id: int) -> tuple[str, str, str]:
    nonce = st.session_state.get(f"workup_nonce_{case_id}", 0)
    show_all = bool(st.session_state.get(f"workup_all_{case_id}", False))
    editor_key = f"workup_editor_{case_id}_{nonce}_{int(show_all)}"
    return editor_key, f"workup_snapshot_{case_id}", f"workup_nonce_{case_id}"


def _shown(rows: Sequence[WorkupRow], case_id: int) -> list[WorkupRow]:
    """The rows the editor shows: those that apply, or all with the toggle on."""
    show_all = bool(st.session_state.get(f"workup_all_{case_id}", False))
    return [r for r in rows if show_all or r.applies]


def _snapshot_under_edit(case_id: int) -> list[WorkupRow] | None:
    """The workup as the user saw it when they started the edits still under way in
    this editor, or None when no edit is under way."""
    editor_key, snapshot_key, _ = _workup_keys(case_id)
    snapshot = st.session_state.get(snapshot_key)
    pending = st.session_state.get(editor_key, {}).get("edited_rows")
    if pending and snapshot is not None and snapshot["editor_key"] == editor_key:
        return list(snapshot["rows"])
    return None


def _fresh_key(case_id: int) -> str:
    return f"workup_fresh_{case_id}"


def offer_workup(case_id: int, rows: Sequence[WorkupRow]) -> None:
    """Hand the workup section rows just read, for its next run to show instead of
    reading them again: the case page's full record, or what a save read back. Taken
    once (a fragment rerun later reads afresh)."""
    st.session_state[_fresh_key(case_id)] = list(rows)


def _save_workup(ctx: ServiceContext, case_id: int, profile: CaseProfile | None) -> None:
    editor_key, _, nonce_key = _workup_keys(case_id)
    snapshot = _snapshot_under_edit(case_id) or []
    edits = st.session_state.get(editor_key, {}).get("edited_rows", {})
    changed = workup_changes(_shown(snapshot, case_id), edits)
    labels = {row.investigation_id: row.label for row, _ in changed}
    try:
        # Each row with the version the user saw when they started editing.
        result = save_workup_edits(
            ctx,
            case_id,
            [InvestigationEdit(row.investigation_id, row.version, c) for row, c in changed],
        )
    except CupboardError as error:
        flash(f"workup_{case_id}", "error", f"Refused — {error}. Nothing was saved.")
        return
    # The investigations as they stand after the save: the section redraws from them
    # instead of reading again (see workup_panel).
    if profile is not None:
        offer_workup(case_id, case_record.workup_rows(result.investigations, profile))
    st.session_state[nonce_key] = st.session_state.get(nonce_key, 0) + 1
    saved = [labels[i] for i in result.saved]
    if result.refused:
        refused = " | ".join(f"{labels[i]}: {error}" for i, error in result.refused)
        done = f" Saved: {', '.join(saved)}." if saved else " Nothing was saved."
        flash(f"workup_{case_id}", "error", "Refused — " + refused + done)
    elif saved:
        flash(f"workup_{case_id}", "success", f"Saved: {', '.join(saved)}.")
    if saved:
        # The page's header counts the workup too ("Missing before MDT"): redraw it.
        st.session_state[_page_stale_key(case_id)] = True


def _page_stale_key(case_id: int) -> str:
    return f"workup_saved_{case_id}"


def _workup_now(ctx: ServiceContext, case_id: int, profile: CaseProfile | None) -> list[WorkupRow]:
    """The workup to show: as just read (by the page, or by a save; see
    :func:`offer_workup`); as the user started editing it while edits are under way
    (what the editor shows, so the gaps match it); else read now."""
    fresh = st.session_state.pop(_fresh_key(case_id), None)
    if fresh is not None:
        return list(fresh)
    under_edit = _snapshot_under_edit(case_id)
    if under_edit is not None:
        return under_edit
    return case_record.workup(ctx, case_id, profile=profile)


def workup_gaps(rows: Sequence[WorkupRow], *, compact: bool = False) -> None:
    """The required investigations still missing before the MDT, made to stand out."""
    missing = [r for r in rows if r.missing_before_mdt]
    if not missing:
        st.success("Required workup complete", icon=":material/check_circle:")
        return
    lines = [
        f"- **{esc(r.label)}** — {esc(r.status_label.lower())}"
        + ("" if compact else f" ({esc(r.required_reason or '')})")
        for r in missing
    ]
    st.warning(
        f"**{len(missing)} required before MDT**\n\n" + "\n".join(lines), icon=":material/warning:"
    )


# How the editor shows each column (plain data, made once: Streamlit copies it per use).
WORKUP_COLUMNS: dict[str, Any] = {
    "Investigation": st.column_config.TextColumn(disabled=True, pinned=True, width=250),
    "Before MDT": st.column_config.TextColumn(
        disabled=True,
        width=230,
        help="Required for this presentation by the guidance, and why; ⚠ still missing",
    ),
    "Status": st.column_config.SelectboxColumn(
        options=list(INVESTIGATION_STATUS_CODES),
        format_func=INVESTIGATION_STATUS_LABELS.__getitem__,
        required=True,
        width=120,
    ),
    **{
        column: st.column_config.DateColumn(format="YYYY-MM-DD", width=105)
        for column in _WORKUP_DATES
    },
    "Result": st.column_config.TextColumn(max_chars=10_000, width="large"),
    "Responsible": st.column_config.TextColumn(max_chars=120),
}


def workup_filter(case_id: int) -> None:
    """Above the workup section, outside its fragment: a rerun of the section (every
    edit and save) then does not redraw it; toggling it reruns the page, rarely."""
    st.toggle(
        "Show investigations not indicated",
        key=f"workup_all_{case_id}",
        help="Conditional investigations start as 'not indicated' until the presentation "
        "calls for them.",
    )


@st.fragment
def workup_panel(ctx: ServiceContext, case_id: int, profile: CaseProfile | None = None) -> None:
    """Every investigation that applies, with status, dates and result. A navigator
    edits cells and saves; only this section reruns.

    ``profile``: the case's profile as the page read it. What is required before the
    MDT follows from it (the presentation and findings, which the workup does not
    change), so a rerun of this section reads the investigations alone.
    """
    ctx = fragment_context(ctx)  # a rerun of this section alone checks the session too
    if st.session_state.pop(_page_stale_key(case_id), False):
        st.rerun(scope="app")  # after a save: the header's counts, not only this section
    editor_key, snapshot_key, _ = _workup_keys(case_id)
    rows = _workup_now(ctx, case_id, profile)
    show_flash(f"workup_{case_id}")
    workup_gaps(rows)
    editable = may(ctx.actor.role, "update_investigation")
    under_edit = _snapshot_under_edit(case_id)
    if under_edit is None:
        # No edits under way: show the database as it is now (and remember it).
        st.session_state[snapshot_key] = {"editor_key": editor_key, "rows": rows}
    visible = _shown(rows if under_edit is None else under_edit, case_id)
    frame = workup_frame(visible)
    if not editable:
        st.dataframe(frame, hide_index=True, column_config=WORKUP_COLUMNS, placeholder="")
        return
    st.data_editor(
        frame,
        key=editor_key,
        hide_index=True,
        placeholder="",
        column_config=WORKUP_COLUMNS,
        disabled=["Investigation", "Before MDT"],
    )
    changes = workup_changes(visible, st.session_state.get(editor_key, {}).get("edited_rows", {}))
    if changes:
        st.caption(
            f"{len(changes)} investigation(s) changed, not saved yet. A status change "
            "stamps today's date when none is given; 'booked' needs the appointment date."
        )
    st.button(
        "Save workup changes",
        key=f"workup_save_{case_id}",
        type="primary",
        disabled=not changes,
        on_click=_save_workup,
        args=(ctx, case_id, profile),
    )


# ---------------------------------------------------------------------------------
# Findings


def findings_summary(
    findings: Findings,
    *,
    picture: CasePicture | None = None,
    compact: bool = False,
    large: bool = False,
) -> None:
    """Histopathology, IHC (latest per marker), molecular profile and serum markers.
    With the case's ``picture``, the molecular results of every report that still
    stand, each with its report's date, and the results two reports disagree on
    (shown, never silently resolved). ``large`` sets each line in heading type, for
    the projector."""
    if findings.is_empty:
        st.info("No findings recorded yet.")
        return

    def line(text: str) -> None:
        st.markdown(f"##### {text}" if large else text, anchors=False)

    for conflict in picture.conflicts if picture else ():
        st.warning(f"Reports disagree — {esc(conflict.message)}", icon=":material/rule:")

    pathology = findings.latest_pathology
    if pathology is not None:
        line(f"**Histopathology** ({_fmt_date(pathology.reported_on)}): {esc(pathology.summary)}")
    else:
        line("**Histopathology:** not reported")
    ihc = findings.latest_ihc
    if ihc:
        line("**IHC:** " + " · ".join(esc(r.text) for r in ihc))
    molecular = findings.latest_molecular
    merged = picture.molecular_lines() if picture else ()
    if merged:
        for text in merged:
            heading, _, results = text.partition(": ")
            line(f"**{esc(heading)}**: {esc(results)}")
    elif molecular is not None:
        line(f"**Molecular** ({_fmt_date(molecular.reported_on)}): {esc(molecular.summary)}")
    serum = findings.latest_serum
    if serum:
        line("**Serum:** " + " · ".join(esc(r.text) for r in serum))
    if compact:
        return
    with st.expander("All findings, newest first"):
        if findings.pathology:
            st.dataframe(
                [
                    {
                        "Reported": p.reported_on,
                        "Histology": p.histology_label,
                        "Differentiation": p.differentiation_label,
                        "Biopsy site": p.biopsy_site_label,
                        "Specimen": p.specimen_label,
                        "Pathologist": p.pathologist,
                        "Comment": p.comment,
                    }
                    for p in findings.pathology
                ],
                hide_index=True,
            )
        if findings.ihc:
            st.dataframe(
                [
                    {
                        "Reported": r.reported_on,
                        "Marker": r.marker,
                        "Result": r.result,
                        "%": r.percentage,
                    }
                    for r in findings.ihc
                ],
                hide_index=True,
            )
        if findings.molecular:
            st.dataframe(
                [
                    {"Reported": m.reported_on, "Lab": m.lab, "Results": m.summary}
                    for m in findings.molecular
                ],
                hide_index=True,
            )
        if findings.serum:
            st.dataframe(
                [
                    {
                        "Measured": s.measured_on,
                        "Marker": s.label,
                        "Value": s.value,
                        "Unit": s.unit,
                        "Upper limit": s.upper_limit_normal,
                    }
                    for s in findings.serum
                ],
                hide_index=True,
            )


_IHC_NAMES = [m.name for m in IHC_MARKERS]
# The first panel a pathologist usually reads [CHU00], [ESMO23]: prefilled, results blank.
_FIRST_PANEL = ("CK7", "CK20", "TTF-1", "GATA3", "CDX2", "PAX8", "p40", "CD45", "SOX10")


def panel_rows(edits: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The IHC panel editor's rows from its edit state: the prefilled first panel with
    the user's edits, deletions and added rows."""
    edits = edits or {}
    rows: list[dict[str, Any]] = [{"Marker": m, "Result": None, "%": None} for m in _FIRST_PANEL]
    for index, cells in (edits.get("edited_rows") or {}).items():
        rows[int(index)].update(cells)
    deleted = {int(i) for i in edits.get("deleted_rows") or ()}
    rows = [row for n, row in enumerate(rows) if n not in deleted]
    return rows + [dict(row) for row in edits.get("added_rows") or ()]


def ihc_entries(rows: Sequence[dict[str, Any]]) -> list[IhcEntry]:
    """Rows of the IHC panel that have a result (blank rows are skipped)."""
    entries = []
    for row in rows:
        marker, result = row.get("Marker"), row.get("Result")
        if not isinstance(marker, str) or not marker or not isinstance(result, str):
            continue
        percentage = row.get("%")
        if percentage is None or (isinstance(percentage, float) and pd.isna(percentage)):
            percentage = None
        entries.append(IhcEntry(marker, result, percentage))
    return entries


def _form_key(base: str) -> str:
    """A form's key with a counter: after a save the form starts afresh (empty)."""
    return f"{base}_{st.session_state.get(f'{base}_nonce', 0)}"


def _submit(base: str, save: Callable[[dict[str, Any]], str], success_scope: str) -> None:
    """A form's submit callback: ``save`` reads the form's values (keyed without the
    form prefix) and returns the success message; a refusal is shown at the form with
    its values kept."""
    key = _form_key(base)
    values = {
        name[len(key) + 1 :]: value
        for name, value in st.session_state.items()
        if isinstance(name, str) and name.startswith(f"{key}_")
    }
    try:
        message = save(values)
    except (PermissionDeniedError, SessionExpiredError) as error:
        # The account changed since the form was drawn (demoted, deactivated, idle): the
        # form may not be drawn again, so the refusal shows where the section's messages
        # always do.
        flash(success_scope, "error", str(error))
    except CupboardError as error:
        flash(base, "error", str(error))
    else:
        st.session_state[f"{base}_nonce"] = st.session_state.get(f"{base}_nonce", 0) + 1
        flash(success_scope, "success", message)


def findings_forms(ctx: ServiceContext, case_id: int) -> None:
    """Entry of histopathology with its IHC panel, single IHC stains, molecular results
    and serum markers; each refused whole, with the field named, when a value is wrong."""
    role = ctx.actor.role
    show_flash(f"findings_{case_id}")
    today = dt.date.today()
    if may(role, "record_pathology"):
        with st.expander("Add a histopathology report (with IHC panel)"):
            _pathology_form(ctx, case_id, today)
        with st.expander("Add an IHC result"):
            _ihc_form(ctx, case_id, today)
    if may(role, "record_molecular"):
        with st.expander("Add a molecular report"):
            _molecular_form(ctx, case_id, today)
    if may(role, "record_serum_marker"):
        with st.expander("Add a serum tumour marker"):
            _serum_form(ctx, case_id, today)
    if not may(role, "record_pathology") or not may(role, "record_molecular"):
        # Say why the tissue reports are not offered here, and who enters them.
        st.caption(_tissue_reports_by(role))


def _tissue_reports_by(role: str) -> str:
    *others, last = PERMISSIONS.get("record_pathology", ("pathologist",))
    who = f"{', '.join(others)} or {last}" if others else last
    return (
        f"Histopathology, IHC and molecular reports are entered by the {who} (your role: {role})."
    )


def _pathology_form(ctx: ServiceContext, case_id: int, today: dt.date) -> None:
    base = f"pathology_{case_id}"
    key = _form_key(base)
    show_flash(base)

    def save(values: dict[str, Any]) -> str:
        if values.get("histology") is None:
            raise ValidationError("histology", "choose the histology category")
        add_pathology_report(
            ctx,
            case_id,
            histology=values["histology"],
            reported_on=values.get("date") or today,
            differentiation=values.get("differentiation"),
            biopsy_site=values.get("site"),
            specimen_type=values.get("specimen"),
            pathologist=values.get("pathologist"),
            comment=values.get("comment"),
            ihc=ihc_entries(panel_rows(values.get("panel"))),
        )
        return "Histopathology report saved."

    with st.form(key):
        cols = st.columns(3)
        cols[0].selectbox(
            "Histology",
            list(HISTOLOGY_CATEGORIES),
            index=None,
            format_func=HISTOLOGY_CATEGORIES.__getitem__,
            key=f"{key}_histology",
        )
        cols[1].selectbox(
            "Differentiation",
            list(DIFFERENTIATION),
            index=None,
            format_func=DIFFERENTIATION.__getitem__,
            key=f"{key}_differentiation",
        )
        cols[2].selectbox(
            "Biopsy site",
            list(METASTATIC_SITES),
            index=None,
            format_func=METASTATIC_SITES.__getitem__,
            key=f"{key}_site",
        )
        cols = st.columns(3)
        cols[0].selectbox(
            "Specimen",
            list(SPECIMEN_TYPES),
            index=None,
            format_func=SPECIMEN_TYPES.__getitem__,
            key=f"{key}_specimen",
        )
        cols[1].date_input("Reported on", value=today, max_value=today, key=f"{key}_date")
        cols[2].text_input("Pathologist", key=f"{key}_pathologist")
        st.text_area("Comment", height=68, key=f"{key}_comment")
        st.caption("IHC panel: give a result for each marker stained; blank rows are skipped.")
        st.data_editor(
            pd.DataFrame(panel_rows(None)).astype({"Marker": "object", "Result": "object"}),
            num_rows="dynamic",
            hide_index=True,
            key=f"{key}_panel",
            column_config={
                "Marker": st.column_config.SelectboxColumn(options=_IHC_NAMES, required=True),
                "Result": st.column_config.SelectboxColumn(options=list(IHC_RESULTS)),
                "%": st.column_config.NumberColumn(min_value=0, max_value=100, step=1),
            },
        )
        st.form_submit_button(
            "Save histopathology report",
            type="primary",
            on_click=_submit,
            args=(base, save, f"findings_{case_id}"),
        )


def _ihc_form(ctx: ServiceContext, case_id: int, today: dt.date) -> None:
    base = f"ihc_{case_id}"
    key = _form_key(base)
    show_flash(base)

    def save(values: dict[str, Any]) -> str:
        marker, result = values.get("marker"), values.get("result")
        if marker is None:
            raise ValidationError("ihc", "choose the marker")
        if result is None:
            raise ValidationError(f"ihc.{marker}", "choose positive, negative or equivocal")
        entry = IhcEntry(marker, result, values.get("percentage"))
        add_ihc_results(ctx, case_id, [entry], values.get("date") or today)
        return f"IHC {marker} {result} saved."

    with st.form(key):
        cols = st.columns([3, 3, 2, 2], vertical_alignment="bottom")
        cols[0].selectbox("Marker", _IHC_NAMES, index=None, key=f"{key}_marker")
        cols[1].segmented_control("Result", list(IHC_RESULTS), key=f"{key}_result")
        cols[2].number_input("% cells (optional)", value=None, step=1.0, key=f"{key}_percentage")
        cols[3].date_input("Reported on", value=today, max_value=today, key=f"{key}_date")
        st.form_submit_button(
            "Save IHC result",
            type="primary",
            on_click=_submit,
            args=(base, save, f"findings_{case_id}"),
        )


def _molecular_form(ctx: ServiceContext, case_id: int, today: dt.date) -> None:
    base = f"molecular_{case_id}"
    key = _form_key(base)
    show_flash(base)

    def save(values: dict[str, Any]) -> str:
        alterations = values.get("alterations") or ""
        add_molecular_report(
            ctx,
            case_id,
            MolecularFindings(
                reported_on=values.get("date") or today,
                msi_status=values.get("msi"),
                mmr_status=values.get("mmr"),
                tmb=values.get("tmb"),
                pdl1_tps=values.get("tps"),
                pdl1_cps=values.get("cps"),
                alterations=tuple(
                    line.strip() for line in alterations.splitlines() if line.strip()
                ),
                tissue_of_origin_site=values.get("too"),
                tissue_of_origin_confidence=values.get("confidence"),
                lab=values.get("lab"),
            ),
        )
        return "Molecular report saved."

    with st.form(key):
        cols = st.columns(4)
        cols[0].selectbox("MSI", MSI_STATUSES, index=None, key=f"{key}_msi")
        cols[1].selectbox("MMR", MMR_STATUSES, index=None, key=f"{key}_mmr")
        cols[2].number_input("TMB (mut/Mb)", value=None, step=0.1, key=f"{key}_tmb")
        cols[3].date_input("Reported on", value=today, max_value=today, key=f"{key}_date")
        cols = st.columns(4)
        cols[0].number_input("PD-L1 TPS (%)", value=None, step=1.0, key=f"{key}_tps")
        cols[1].number_input("PD-L1 CPS", value=None, step=1.0, key=f"{key}_cps")
        cols[2].selectbox(
            "Tissue of origin (GEP)",
            list(PRIMARY_SITES),
            index=None,
            format_func=PRIMARY_SITES.__getitem__,
            key=f"{key}_too",
        )
        cols[3].number_input("Confidence (0-1)", value=None, step=0.01, key=f"{key}_confidence")
        st.text_area(
            "Alterations (one per line, e.g. BRAF V600E, ETV6::NTRK3 fusion)",
            height=80,
            key=f"{key}_alterations",
        )
        st.text_input("Laboratory", key=f"{key}_lab")
        st.form_submit_button(
            "Save molecular report",
            type="primary",
            on_click=_submit,
            args=(base, save, f"findings_{case_id}"),
        )


def _serum_form(ctx: ServiceContext, case_id: int, today: dt.date) -> None:
    base = f"serum_{case_id}"
    key = _form_key(base)
    show_flash(base)
    by_code = {m.code: m for m in SERUM_MARKERS}

    def save(values: dict[str, Any]) -> str:
        marker, value = values.get("marker"), values.get("value")
        if marker is None:
            raise ValidationError("marker", "choose the serum marker")
        if value is None:
            raise ValidationError("value", "give the measured value")
        add_serum_marker(
            ctx,
            case_id,
            marker=marker,
            value=value,
            unit=values.get("unit") or None,
            upper_limit_normal=values.get("upper"),
            measured_on=values.get("date") or today,
        )
        return f"{by_code[marker].label} saved."

    with st.form(key):
        cols = st.columns(5, vertical_alignment="bottom")
        cols[0].selectbox(
            "Marker",
            list(by_code),
            index=None,
            format_func=lambda c: f"{by_code[c].label} ({by_code[c].default_unit})",
            key=f"{key}_marker",
        )
        cols[1].number_input("Value", value=None, step=0.1, key=f"{key}_value")
        cols[2].text_input("Unit (default if blank)", key=f"{key}_unit")
        cols[3].number_input("Upper limit of normal", value=None, step=1.0, key=f"{key}_upper")
        cols[4].date_input("Measured on", value=today, max_value=today, key=f"{key}_date")
        st.form_submit_button(
            "Save serum marker",
            type="primary",
            on_click=_submit,
            args=(base, save, f"findings_{case_id}"),
        )


# ---------------------------------------------------------------------------------
# Guidance


def _tag(source: str) -> str:
    return f"\\[{esc(source)}\\]"


GUIDANCE_SECTIONS = (
    "subtype",
    "exclusions",
    "primaries",
    "biomarkers",
    "prognosis",
    "missing",
    "options",
    "warnings",
)


def guidance_panel(
    guidance: Guidance, *, compact: bool = False, sections: Sequence[str] = GUIDANCE_SECTIONS
) -> None:
    """What the guidance makes of the findings: each line with its evidence and source.
    The board decides; this shows evidence, gaps and options worth discussing.

    ``sections`` picks what to show (meeting mode spreads them over two columns);
    ``compact`` shortens the lists and leaves out the sources list.
    """
    used: list[str] = []

    def cite(source: str) -> str:
        if source not in used:
            used.append(source)
        return _tag(source)

    found = guidance.primary_found
    if "subtype" in sections and found is not None:
        # A primary established on tissue: treated as that cancer (docs/clinical-rules.md).
        st.success(
            f"**Primary found on tissue:** {esc(found.label)} — "
            f"{esc(', '.join(found.evidence))} {cite(found.source)}",
            icon=":material/check_circle:",
        )
    subtype = guidance.favourable_subtype
    if "subtype" in sections and subtype is not None:
        st.success(
            f"**Favourable subtype:** {esc(subtype.label)} → manage as "
            f"**{esc(subtype.manage_as)}** {cite(subtype.source)}\n\n"
            f"Evidence: {esc(', '.join(subtype.evidence))}",
            icon=":material/star:",
        )
        for other in guidance.other_favourable_subtypes:
            st.markdown(
                f"- Also matches: {esc(other.label)} ({esc(', '.join(other.evidence))}) "
                f"{cite(other.source)}"
            )
    elif "subtype" in sections:
        st.markdown(f"**No favourable subtype** matched: unfavourable CUP (~80 %) {cite('ESMO23')}")
    if "exclusions" in sections:
        for exclusion in guidance.exclude_first:
            st.error(
                f"**Rule out {esc(exclusion.label.lower())} first:** "
                f"{esc(', '.join(exclusion.evidence))} {cite(exclusion.source)}",
                icon=":material/search:",
            )
        # Findings that disagree are shown to the board, never silently resolved.
        for conflict in guidance.conflicts:
            st.warning(
                f"**Findings disagree:** {esc(conflict.message)} {cite(conflict.source)}",
                icon=":material/rule:",
            )
    primaries = guidance.likely_primaries[: 2 if compact else 3]
    if "primaries" in sections and primaries:
        lines = []
        for n, primary in enumerate(primaries, start=1):
            evidence = ", ".join(f"{esc(f.text)} {cite(f.source)}" for f in primary.evidence)
            against = (
                "; against: "
                + ", ".join(f"{esc(f.text)} {cite(f.source)}" for f in primary.against)
                if primary.against
                else ""
            )
            lines.append(f"{n}. **{esc(primary.label)}** — {evidence}{against}")
        st.markdown("**Likely primary sites** (ranked, not probabilities)\n\n" + "\n".join(lines))
    if "biomarkers" in sections:
        for biomarker in guidance.tumour_agnostic:
            st.info(
                f"**{esc(biomarker.biomarker)}** ({esc(biomarker.evidence)}) → "
                f"{esc(biomarker.therapy)} {cite(biomarker.source)}",
                icon=":material/genetics:",
            )
    if "prognosis" in sections:
        prognosis = guidance.prognosis
        st.markdown(
            f"**Prognosis:** {esc(prognosis.group)} — {esc(prognosis.reason)} "
            f"{cite(prognosis.source)}"
        )
    if "missing" in sections and guidance.missing_workup:
        labels = ", ".join(INVESTIGATIONS_BY_CODE[c].label for c in guidance.missing_workup)
        st.markdown(f"**Missing workup:** {esc(labels)} {cite('SVF')}")
    if "options" in sections and guidance.options:
        options = "\n".join(
            f"{n}. **{esc(o.label)}** — {esc(o.reason)} {cite(o.source)}"
            for n, o in enumerate(guidance.options, start=1)
        )
        st.markdown(f"**Worth discussing** (the board decides)\n\n{options}")
    if "warnings" in sections:
        for warning in guidance.warnings:
            st.warning(f"{esc(warning.text)} {cite(warning.source)}", icon=":material/warning:")
    if not compact and used:
        with st.expander("Sources"):
            for tag in used:
                st.markdown(f"{_tag(tag)} {esc(SOURCES.get(tag, tag))}")


# ---------------------------------------------------------------------------------
# Performance status


# A figure per distinct input, built once for every session and kept as unchangeable
# bytes (cupboard/ui/cache.stored): each chart drawn gets a figure of its own, so nothing
# done to one patient's chart in one session can show in another's.
ECOG_FIGURES = 128


@st.cache_resource(max_entries=ECOG_FIGURES, show_spinner=False)
def _ecog_figure(
    ecog: tuple[tuple[dt.date, int], ...],
    decisions: tuple[tuple[dt.date, str], ...],
    treatment_starts: tuple[tuple[dt.date, str], ...],
    weight: tuple[tuple[dt.date, float], ...],
    ldh: tuple[tuple[dt.date, float], ...],
    ldh_upper_limit: float | None,
    until: dt.date,
    height: int,
    font_size: int,
) -> bytes:
    return stored(
        ecog_figure(
            ecog,
            decisions=decisions,
            treatment_starts=treatment_starts,
            weight=weight,
            ldh=ldh,
            ldh_upper_limit=ldh_upper_limit,
            until=until,
            height=height,
            font_size=font_size,
        )
    )


def ecog_chart(record: CaseRecord, *, height: int = 360, font_size: int = 14) -> None:
    """ECOG over time with decisions and treatment starts; weight and LDH if recorded."""
    st.plotly_chart(
        ecog_chart_figure(record, height=height, font_size=font_size),
        key=f"ecog_chart_{record.header.case_id}",
        config={"displaylogo": False},
    )


def ecog_chart_figure(record: CaseRecord, *, height: int, font_size: int) -> go.Figure:
    """The case's ECOG figure, this caller's own: built once per distinct content (plain
    tuples in, see ``_ecog_figure``), each caller given a fresh copy."""
    current = record.current_decisions
    ldh = [s for s in record.findings.serum if s.marker == "LDH"]
    upper = next((s.upper_limit_normal for s in ldh if s.upper_limit_normal is not None), None)
    entry = _ecog_figure(
        tuple((p.observed_on, p.score) for p in record.ecog),
        tuple((d.decided_on, d.label) for d in current),
        tuple((d.treatment_started_on, d.label) for d in current if d.treatment_started_on),
        tuple((p.observed_on, p.weight_kg) for p in record.ecog if p.weight_kg is not None),
        tuple((s.measured_on, s.value) for s in ldh),
        upper,
        dt.date.today(),
        height,
        font_size,
    )
    figure: go.Figure = fresh(entry)
    return figure


def latest_ecog_metric(series: Sequence[EcogPoint]) -> None:
    if not series:
        st.metric("Latest ECOG", "—")
        return
    latest = series[-1]
    delta = latest.score - series[-2].score if len(series) > 1 else None
    st.metric(
        "Latest ECOG",
        latest.score,
        delta=delta,
        delta_color="inverse",  # a higher ECOG is worse
        help=f"{ECOG_GRADES[latest.score]} (observed {latest.observed_on.isoformat()})",
    )


def ecog_form(ctx: ServiceContext, case_id: int) -> None:
    """Record ECOG 0-5 with its date (and weight)."""
    base = f"ecog_{case_id}"
    # Before the role check: a save refused because the role changed meanwhile is
    # still reported, on the run that no longer shows the form.
    show_flash(base)
    if not may(ctx.actor.role, "record_ecog"):
        return
    key = _form_key(base)
    today = dt.date.today()

    def save(values: dict[str, Any]) -> str:
        score = values.get("score")
        if score is None:
            raise ValidationError("ecog", "choose a score from 0 to 5")
        observed_on = values.get("date") or today
        record_ecog(
            ctx,
            case_id,
            score=score,
            observed_on=observed_on,
            weight_kg=values.get("weight"),
            note=values.get("note"),
        )
        return f"ECOG {score} recorded for {observed_on.isoformat()}."

    with st.form(key):
        st.segmented_control(
            "ECOG performance status",
            list(ECOG_GRADES),
            format_func=str,
            key=f"{key}_score",
            help="; ".join(f"{s}: {label}" for s, label in ECOG_GRADES.items()),
        )
        cols = st.columns(2)
        cols[0].date_input("Observed on", value=today, max_value=today, key=f"{key}_date")
        cols[1].number_input("Weight (kg, optional)", value=None, step=0.1, key=f"{key}_weight")
        st.text_input("Note (optional)", key=f"{key}_note")
        st.form_submit_button(
            "Record ECOG", type="primary", on_click=_submit, args=(base, save, base)
        )


def ecog_panel(ctx: ServiceContext, record: CaseRecord) -> None:
    """The ECOG chart beside the latest score and the form to record a new one."""
    cols = st.columns([5, 3], gap="large")
    with cols[0]:
        ecog_chart(record)
    with cols[1]:
        latest_ecog_metric(record.ecog)
        ecog_form(ctx, record.header.case_id)
    if record.ecog:
        with st.expander("All observations"):
            st.dataframe(
                [
                    {
                        "Observed": p.observed_on,
                        "ECOG": p.score,
                        "Weight (kg)": p.weight_kg,
                        "Note": p.note,
                    }
                    for p in reversed(record.ecog)
                ],
                hide_index=True,
            )


# ---------------------------------------------------------------------------------
# Decisions

Attendee = tuple[str, str]  # (name, discipline code)


def _attendee_label(attendee: Attendee) -> str:
    name, discipline = attendee
    return f"{name} — {DISCIPLINES.get(discipline, discipline)}"


def ordered_decision_codes(guidance: Guidance) -> list[str]:
    """Every decision code, those the guidance finds worth discussing first."""
    first = [o.code for o in guidance.options]
    return first + [c for c in DECISION_CODES if c not in first]


def _detail_default(code: str, guidance: Guidance, record: CaseRecord) -> Any:
    if code == "site_specific":
        return guidance.likely_primaries[0].site if guidance.likely_primaries else None
    if code == "empiric_platinum_taxane":
        return "carboplatin + paclitaxel"
    if code == "immunotherapy":
        names = [b.biomarker for b in guidance.tumour_agnostic if b.decision == "immunotherapy"]
        return names[0] if names else ""
    if code == "targeted_therapy":
        found = [b.evidence for b in guidance.tumour_agnostic if b.decision == "targeted_therapy"]
        return found[0] if found else ""
    if code == "further_workup":
        missing = [r.label for r in record.workup if r.missing_before_mdt]
        return ", ".join(missing)
    return ""


def decision_form(
    ctx: ServiceContext,
    record: CaseRecord,
    guidance: Guidance,
    *,
    key: str,
    meeting_id: int | None = None,
    meeting_choices: Sequence[tuple[int, str, int | None]] = (),
    chair_id: int | None = None,
    attendees: Sequence[dict[str, str]] = (),
    amend: DecisionRow | None = None,
    compact: bool = False,
) -> None:
    """Record (or amend) the board's decision.

    The options the guidance finds worth discussing come first and are named; the board
    still chooses freely. Warnings about the chosen decision show before saving.
    ``meeting_id`` fixes the meeting (meeting mode), with ``chair_id`` its chair;
    otherwise ``meeting_choices`` (id, label, chair id) are offered. ``compact`` fits
    the projector screen.
    """
    case_id = record.header.case_id
    scope = f"{key}_decision"
    show_flash(scope)
    if not may(ctx.actor.role, "record_decision"):
        st.caption("Oncologists and the MDT chair record decisions.")
        return
    codes = ordered_decision_codes(guidance)
    worth = {o.code: o for o in guidance.options}
    # Nothing is preselected: the board chooses; the guidance's options come first.
    code = st.selectbox(
        "Decision",
        codes,
        index=codes.index(amend.code) if amend else None,
        format_func=lambda c: f"★ {DECISION_LABELS[c]}" if c in worth else DECISION_LABELS[c],
        key=f"{key}_code",
        placeholder="Choose the board's decision",
        help="★ = worth discussing by the guidance; the board decides.",
    )
    if code is None:
        if guidance.options:
            options = "\n".join(
                f"{n}. **{esc(o.label)}** — {esc(o.reason)} {_tag(o.source)}"
                for n, o in enumerate(guidance.options, start=1)
            )
            st.markdown(f"**Worth discussing** (the board decides)\n\n{options}")
        return
    if code in worth:
        option = worth[code]
        st.caption(f"Guidance: {esc(option.reason)} {_tag(option.source)}")
    for warning in decision_warnings(record.profile, code):
        st.warning(esc(warning), icon=":material/warning:")
    nonce = st.session_state.get(f"{key}_nonce", 0)
    form_key = f"{key}_form_{code}_{nonce}"
    chairs = {m: chair for m, _, chair in meeting_choices}
    kind = DECISION_KINDS_BY_CODE[code]
    latest = record.latest_ecog
    ecog_default = amend.ecog_at_decision if amend else (latest.score if latest else None)
    with st.form(form_key, border=not compact):
        detail = kind.required_detail
        default = _detail_default(code, guidance, record)
        if amend is not None and detail:
            default = getattr(amend, detail) or default
        if detail == "presumed_primary":
            sites = list(PRIMARY_SITES)
            st.selectbox(
                kind.detail_label or "Presumed primary",
                sites,
                index=sites.index(default) if default in sites else None,
                format_func=PRIMARY_SITES.__getitem__,
                key=f"{form_key}_detail",
            )
        elif detail == "target_site":
            cols = st.columns(2)
            modalities = list(LOCAL_MODALITIES)
            cols[0].selectbox(
                "Modality",
                modalities,
                index=modalities.index(amend.local_modality)
                if amend and amend.local_modality in modalities
                else None,
                format_func=LOCAL_MODALITIES.__getitem__,
                key=f"{form_key}_modality",
            )
            cols[1].text_input(
                kind.detail_label or "Target site", value=default, key=f"{form_key}_detail"
            )
        elif detail == "workup_requested":
            st.text_area(
                kind.detail_label or "What workup",
                value=default,
                height=68,
                key=f"{form_key}_detail",
            )
        elif detail is not None:
            st.text_input(kind.detail_label or detail, value=default, key=f"{form_key}_detail")
        st.text_area(
            "Rationale (required)",
            value=amend.rationale if amend else "",
            height=68 if compact else 100,
            key=f"{form_key}_rationale",
        )
        cols = st.columns(3 if not compact else 2)
        cols[0].selectbox(
            "ECOG at decision",
            [None, 0, 1, 2, 3, 4, 5],
            index=[None, 0, 1, 2, 3, 4, 5].index(ecog_default),
            format_func=lambda s: "not recorded" if s is None else str(s),
            key=f"{form_key}_ecog",
            help="Prefilled with the latest recorded ECOG.",
        )
        cols[1].date_input(
            "Decided on",
            value=amend.decided_on if amend else dt.date.today(),
            max_value=dt.date.today(),
            key=f"{form_key}_date",
        )
        if not compact:
            cols[2].date_input("Follow-up due (optional)", value=None, key=f"{form_key}_follow_up")
            if meeting_id is None and meeting_choices:
                choices = [None, *[m for m, _, _ in meeting_choices]]
                labels = {m: label for m, label, _ in meeting_choices}
                st.selectbox(
                    "MDT meeting",
                    choices,
                    index=1,
                    format_func=lambda m: "no meeting" if m is None else labels[m],
                    key=f"{form_key}_meeting",
                )
        st.text_input(
            "Plan (optional)", value=(amend.plan or "") if amend else "", key=f"{form_key}_plan"
        )
        options = _attendee_options(ctx, attendees, amend)
        default_attendees = (
            [(a["name"], a["discipline"]) for a in amend.attendees]
            if amend
            else [(a["name"], a["discipline"]) for a in attendees]
        )
        if compact:
            st.session_state.setdefault(f"{form_key}_attendees", default_attendees)
        else:
            st.multiselect(
                "Attendees",
                options,
                default=[a for a in default_attendees if a in options],
                format_func=_attendee_label,
                key=f"{form_key}_attendees",
            )
        if amend is not None:
            st.text_input("Reason for the amendment (required)", key=f"{form_key}_reason")
        st.form_submit_button(
            "Save amendment" if amend else "Record decision",
            type="primary",
            on_click=_save_decision,
            args=(ctx, case_id, key, form_key, code, meeting_id, chair_id, amend, chairs),
            # The current decisions this screen shows: saving carries them, so a
            # decision someone else recorded meanwhile is a conflict, not a second one.
            kwargs={"seen": _decisions_seen(record)},
        )
    if compact and attendees:
        st.caption("Attendees: the meeting's list.")


def _attendee_options(
    ctx: ServiceContext, attendees: Sequence[dict[str, str]], amend: DecisionRow | None
) -> list[Attendee]:
    options: list[Attendee] = [(a["name"], a["discipline"]) for a in attendees]
    if amend is not None:
        options += [(a["name"], a["discipline"]) for a in amend.attendees]
    for member in queue.staff(ctx, ("oncologist", "chair", "pathologist", "navigator")):
        if member.discipline:
            options.append((member.name, member.discipline))
    return list(dict.fromkeys(options))


def _decisions_seen(record: CaseRecord) -> tuple[tuple[int | None, dt.date, int], ...]:
    """(meeting, day, decision id) of each current decision the screen shows."""
    return tuple((d.meeting_id, d.decided_on, d.id) for d in record.current_decisions)


def _seen_for(
    seen: Sequence[tuple[int | None, dt.date, int]], meeting_id: int | None, day: object
) -> int | None:
    """The current decision the user saw for this meeting (for this day outside one)."""
    for seen_meeting, seen_day, decision_id in seen:
        if seen_meeting == meeting_id and (meeting_id is not None or seen_day == day):
            return decision_id
    return None


def _save_decision(
    ctx: ServiceContext,
    case_id: int,
    key: str,
    form_key: str,
    code: str,
    meeting_id: int | None,
    chair_id: int | None,
    amend: DecisionRow | None,
    chairs: dict[int, int | None],
    seen: Sequence[tuple[int | None, dt.date, int]] = (),
) -> None:
    state = st.session_state
    detail_field = DECISION_KINDS_BY_CODE[code].required_detail
    if meeting_id is None:
        # Chosen in the form: the chair is that meeting's chair (none without a meeting).
        meeting_id = state.get(f"{form_key}_meeting")
        chair_id = chairs.get(meeting_id) if meeting_id is not None else None
    details: dict[str, Any] = {}
    if detail_field:
        details[detail_field] = state.get(f"{form_key}_detail")
    if code == "local_therapy":
        details["local_modality"] = state.get(f"{form_key}_modality")
    draft = DecisionDraft(
        code=code,
        rationale=state.get(f"{form_key}_rationale") or "",
        decided_on=state.get(f"{form_key}_date") or dt.date.today(),
        meeting_id=meeting_id,
        plan=state.get(f"{form_key}_plan"),
        ecog_at_decision=state.get(f"{form_key}_ecog"),
        attendees=[
            {"name": name, "discipline": discipline}
            for name, discipline in state.get(f"{form_key}_attendees") or []
        ],
        chair_id=chair_id,
        follow_up_due=state.get(f"{form_key}_follow_up"),
        **details,
    )
    try:
        if amend is None:
            seen_id = _seen_for(seen, draft.meeting_id, draft.decided_on)
            record_decision(ctx, case_id, draft, seen_decision_id=seen_id)
        else:
            amend_decision(
                ctx, amend.id, amend.version, draft, state.get(f"{form_key}_reason") or ""
            )
    except CupboardError as error:
        flash(f"{key}_decision", "error", str(error))
        return
    state[f"{key}_nonce"] = state.get(f"{key}_nonce", 0) + 1
    if amend is None:
        del state[f"{key}_code"]  # the next decision starts unchosen
    verb = "amended" if amend else "recorded"
    flash(f"{key}_decision", "success", f"Decision {verb}: {DECISION_LABELS[code]}.")


def decision_card(decision: DecisionRow) -> None:
    """One decision, as recorded; superseded ones are marked, never rewritten."""
    state = "superseded" if decision.superseded else "current"
    amended = (
        f" · amends decision {decision.amends_decision_id}" if decision.amends_decision_id else ""
    )
    meeting = f" · MDT {decision.meeting_date.isoformat()}" if decision.meeting_date else ""
    st.markdown(
        f"**{decision.decided_on.isoformat()} · {esc(decision.label)}** "
        f"({state}{amended}{esc(meeting)})"
    )
    if decision.detail:
        st.text(decision.detail)
    st.text(f"Rationale: {decision.rationale}")
    if decision.plan:
        st.text(f"Plan: {decision.plan}")
    ecog = decision.ecog_at_decision
    facts = [
        f"ECOG at decision: {ecog if ecog is not None else '—'}",
        f"decided by: {decision.decided_by or '—'}",
    ]
    if decision.chair:
        facts.append(f"chair: {decision.chair}")
    if decision.treatment_started_on:
        facts.append(f"treatment started {decision.treatment_started_on.isoformat()}")
    if decision.follow_up_due:
        facts.append(f"follow-up due {decision.follow_up_due.isoformat()}")
    st.caption(esc(" · ".join(facts)))
    if decision.attendees:
        st.caption(esc(f"Attendees: {decision.attendee_text}"))


def decision_section(
    ctx: ServiceContext, record: CaseRecord, guidance: Guidance, *, key: str
) -> None:
    """The decision form and every earlier decision (amend = a new version)."""
    today = dt.date.today()
    # The meeting the decision most likely belongs to: the latest one held, else the next.
    held = [a for a in record.agenda if a.meeting_date <= today]
    coming = sorted(
        (a for a in record.agenda if a.meeting_date > today), key=lambda a: a.meeting_date
    )
    agenda = held + coming
    meeting = agenda[0] if agenda else None
    st.subheader("Record the MDT decision")
    decision_form(
        ctx,
        record,
        guidance,
        key=key,
        meeting_choices=[
            (a.meeting_id, f"{a.meeting_date.isoformat()} · {a.title}", a.chair_id) for a in agenda
        ],
        attendees=meeting.attendees if meeting else (),
    )
    st.subheader("Decisions so far")
    if not record.decisions:
        st.caption("No decision recorded yet.")
    amendable = may(ctx.actor.role, "record_decision")
    for decision in record.decisions:
        with st.container(border=True):
            decision_card(decision)
            if amendable and not decision.superseded:
                with st.expander("Amend this decision (the original is kept)"):
                    decision_form(
                        ctx,
                        record,
                        guidance,
                        key=f"{key}_amend_{decision.id}",
                        meeting_id=decision.meeting_id,
                        chair_id=None,
                        attendees=decision.attendees,
                        amend=decision,
                    )


# ---------------------------------------------------------------------------------
# History

TIMELINE_KINDS: dict[str, str] = {
    "referral": "Referral",
    "status": "Status",
    "investigation": "Workup",
    "finding": "Findings",
    "ecog": "ECOG",
    "meeting": "MDT",
    "decision": "Decisions",
}


def timeline_frame(events: Sequence[TimelineEvent]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Date": pd.Series([e.on for e in events], dtype="object"),
            "Time": pd.Series(
                [e.at.strftime("%H:%M") if e.at else "" for e in events], dtype="object"
            ),
            "Kind": pd.Series([TIMELINE_KINDS.get(e.kind, e.kind) for e in events], dtype="object"),
            "What": pd.Series([e.title for e in events], dtype="object"),
            "Detail": pd.Series([e.detail or "" for e in events], dtype="object"),
            "By": pd.Series([e.by or "" for e in events], dtype="object"),
        }
    )


def timeline_panel(events: Sequence[TimelineEvent], *, key: str) -> None:
    """Everything that happened to the case, newest first, as a plain table whose long
    details wrap (for reading before clinic)."""
    kinds = st.pills(
        "Show",
        list(TIMELINE_KINDS),
        selection_mode="multi",
        default=list(TIMELINE_KINDS),
        format_func=TIMELINE_KINDS.__getitem__,
        key=f"{key}_kinds",
    )
    shown = [e for e in events if e.kind in (kinds or [])]
    if not shown:
        st.caption("Nothing of these kinds yet.")
        return
    # st.table reads cells as markdown: user text (results, rationales) is escaped.
    frame = timeline_frame(shown).astype(str).map(esc)
    st.table(frame, hide_index=True, border="horizontal")
