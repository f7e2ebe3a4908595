"""Case workspace: workup, findings with guidance, performance status, decision, history.

Deep link: ``case?case_id=N``.
"""

import streamlit as st

from cupboard.errors import NotFoundError
from cupboard.guidance import assess_case
from cupboard.services import case_record
from cupboard.ui import case_panels as panels
from cupboard.ui.guard import page_guard, show_error

ctx = page_guard("view_cases")

raw_case_id = st.query_params.get("case_id", "")
if not raw_case_id.isdigit():
    st.title("Case")
    st.info("Open a case from the MDT queue.")
    st.page_link("pages/queue.py", label="MDT queue", icon=":material/view_list:")
    st.stop()
try:
    record = case_record.case_record(ctx, int(raw_case_id))
except NotFoundError as missing:
    st.title("Case")
    show_error(missing)
    st.stop()

header = record.header
case_id = header.case_id
guidance = assess_case(record.profile)

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
if record.agenda:
    with st.container(horizontal=True, gap="small"):
        st.caption("On the agenda of:", width="content")
        for entry in record.agenda:
            st.page_link(
                "pages/meeting.py",
                label=f"MDT {entry.meeting_date.isoformat()} (#{entry.position})",
                icon=":material/co_present:",
                query_params={"meeting_id": str(entry.meeting_id)},
            )
panels.status_control(ctx, header, key=f"case_{case_id}")

workup_tab, findings_tab, ecog_tab, decision_tab, history_tab = st.tabs(
    ["Workup", "Findings & guidance", "Performance status", "Decision", "History"]
)
with workup_tab:
    panels.workup_panel(ctx, case_id)
with findings_tab:
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Findings")
        panels.findings_summary(record.findings)
        panels.findings_forms(ctx, case_id)
    with right:
        st.subheader("Guidance")
        panels.guidance_panel(guidance)
with ecog_tab:
    panels.ecog_panel(ctx, record)
with decision_tab:
    panels.decision_section(ctx, record, guidance, key=f"case_{case_id}")
with history_tab:
    st.caption("Everything that happened to this case, newest first.")
    panels.timeline_panel(record.timeline, key=f"history_{case_id}")
