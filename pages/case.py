"""Case workspace: workup, findings with guidance, performance status, decision, history.

Deep link: ``case?case_id=N``. Only the open tab runs (``st.tabs(on_change="rerun")``):
the hidden ones cost nothing until the user opens them.
"""

import datetime as dt

import streamlit as st

from cupboard import validation as v
from cupboard.errors import NotFoundError
from cupboard.permissions import may
from cupboard.services import case_record
from cupboard.services.case_record import CaseRecord, guidance_for
from cupboard.services.context import ServiceContext
from cupboard.ui import case_details, follow_up, referrals_panel, trial_panel
from cupboard.ui import case_panels as panels
from cupboard.ui.cache import cached_read
from cupboard.ui.case_finder import case_finder
from cupboard.ui.guard import page_guard, show_error
from cupboard.ui.interop_widgets import fhir_download_button

ctx = page_guard("view_cases")

TABS = ("Workup", "Findings & guidance", "Performance status", "Decision", "History")
HISTORY = TABS[-1]


# Cached until the next write anywhere (cupboard/ui/cache.py): every save on this page
# writes, so the rerun after it reads afresh.
@cached_read()
def load_record(
    ctx: ServiceContext, case_id: int, with_timeline: bool, today: dt.date
) -> CaseRecord:
    return case_record.case_record(ctx, case_id, today, timeline=with_timeline)


raw_case_id = st.query_params.get("case_id", "")
# A hand-edited link names no case unless it is an id the database can hold.
case_id = v.optional_record_id("case_id", raw_case_id)


def open_case(chosen: int | None) -> None:
    if chosen is not None:
        st.query_params["case_id"] = str(chosen)  # the address stays a deep link
        st.rerun()


if case_id is None:
    st.title("Case")
    if raw_case_id:
        st.error("No such case: the link does not name a case.", icon="⛔")
    open_case(case_finder(ctx, key="case_finder"))
    st.info("Or open a case from the MDT queue or your worklist.")
    st.page_link("pages/queue.py", label="MDT queue", icon=":material/view_list:")
    st.stop()
tabs_key = f"case_tabs_{case_id}"
# The tab the user has open (the tabs' state from the browser, before they are drawn):
# the timeline and the audit trail behind it are read only for the History tab.
history_open = st.session_state.get(tabs_key) == HISTORY
try:
    record = load_record(ctx, case_id, history_open, dt.date.today())
except NotFoundError as missing:
    st.title("Case")
    show_error(missing)
    st.stop()

header = record.header
guidance = guidance_for(record.profile)

# Runs only while open (on_change="rerun"): most visits stay with this case.
finder = st.expander(
    "Find another case", icon=":material/search:", key="case_find_another", on_change="rerun"
)
if finder.open:
    with finder:
        open_case(case_finder(ctx, key="case_finder"))
panels.case_banner(header, deidentified=False)
metrics = st.columns(5)
metrics[0].metric("Pathway day", header.pathway_day, help="Calendar days since day 0 [SVF]")
metrics[1].metric(
    "Workup",
    f"{record.workup_done}/{record.workup_total}",
    help="Done, reported or declined / all investigations that apply",
)
metrics[2].metric(
    "Missing before MDT",
    len(record.missing_before_mdt),
    help="Required for this presentation and not done yet (guidance)",
)
with metrics[3]:
    panels.latest_ecog_metric(record.ecog)
subtype = guidance.favourable_subtype
metrics[4].metric(
    "Favourable subtype",
    "yes" if subtype else "no",
    delta=f"manage as {subtype.manage_as}" if subtype else None,
    delta_color="off",
    delta_arrow="off",
    help="By the guidance [ESMO23]; the board decides",
)
with st.container(horizontal=True, gap="small", vertical_alignment="center"):
    if record.agenda:
        st.caption("On the agenda of:", width="content")
        for entry in record.agenda:
            st.page_link(
                "pages/meeting.py",
                label=f"MDT {entry.meeting_date.isoformat()} (#{entry.position})",
                icon=":material/co_present:",
                query_params={"meeting_id": str(entry.meeting_id)},
            )
    st.page_link(
        "pages/summary.py",
        label="Before-clinic summary",
        icon=":material/description:",
        query_params={"case_id": str(case_id)},
    )
if may(ctx.actor.role, "export_data"):
    # Runs only while open (on_change="rerun"): most visits never export.
    export = st.expander(
        "Export", icon=":material/download:", key=f"case_export_{case_id}", on_change="rerun"
    )
    if export.open:
        with export:
            fhir_download_button(ctx, case_id)
panels.status_control(ctx, header, key=f"case_{case_id}")
panels.diagnosis_control(ctx, header, key=f"case_{case_id}")
case_details.presentation(header)
case_details.details_editor(ctx, header, key=f"case_{case_id}")

workup_tab, findings_tab, ecog_tab, decision_tab, history_tab = st.tabs(
    list(TABS), key=tabs_key, on_change="rerun"
)
if workup_tab.open:
    with workup_tab:
        # The record was read in this run: the section shows its workup, not a
        # second read (a rerun of the section alone reads afresh).
        panels.offer_workup(case_id, record.workup)
        panels.workup_filter(case_id)
        panels.workup_panel(ctx, case_id, record.profile)
if findings_tab.open:
    with findings_tab:
        left, right = st.columns([3, 2], gap="large")
        with left:
            st.subheader("Findings")
            # Symptoms direct the workup and are read by the guidance beside them.
            panels.symptoms_control(ctx, header, key=f"case_{case_id}")
            panels.findings_summary(record.findings, picture=record.picture)
            panels.findings_forms(ctx, case_id)
        with right:
            st.subheader("Guidance")
            panels.guidance_panel(guidance)
            st.divider()
            trial_panel.clinical_trials(ctx, record.profile, guidance)
if ecog_tab.open:
    with ecog_tab:
        panels.ecog_panel(ctx, record)
if decision_tab.open:
    with decision_tab:
        panels.decision_section(ctx, record, guidance, key=f"case_{case_id}")
        follow_up.follow_up_section(ctx, record, key=f"case_{case_id}")
        st.divider()
        referrals_panel.referrals_section(
            ctx, case_id, guidance, record.decisions, key=f"case_{case_id}_referrals"
        )
if history_tab.open:
    with history_tab:
        # Read with the record when the tab was already open; just opened, read now.
        events = record.timeline if history_open else case_record.timeline(ctx, case_id)
        st.caption("Everything that happened to this case, newest first.")
        panels.timeline_panel(events, key=f"history_{case_id}")
