"""MDT queue: the cases on a meeting's agenda."""

import pandas as pd
import streamlit as st

from cupboard.knowledge.pathway import CASE_STATUS_LABELS
from cupboard.services import reading
from cupboard.ui.guard import page_guard

ctx = page_guard("view_cases")

st.title("MDT queue")
meetings = reading.list_meetings(ctx)
if not meetings:
    st.info("No upcoming MDT meetings. A navigator can schedule one.")
    st.stop()
meeting = st.selectbox(
    "Meeting",
    meetings,
    format_func=lambda m: f"{m.meeting_date:%a %d %b %Y} · {m.title}",
    key="queue_meeting",
)
rows = reading.agenda(ctx, meeting.id)
st.caption(f"{len(rows)} cases on the agenda")
table = pd.DataFrame(
    [
        {
            "#": r.position,
            "Patient": r.pseudonym,
            "Age": r.age,
            "Sex": r.sex,
            "Sites": ", ".join(s.replace("_", " ") for s in r.metastatic_sites),
            "Days on pathway": r.days_since_pathway_start,
            "Status": CASE_STATUS_LABELS.get(r.status, r.status),
            "Open": f"case?case_id={r.case_id}",
        }
        for r in rows
    ]
)
st.dataframe(
    table,
    hide_index=True,
    column_config={"Open": st.column_config.LinkColumn("Open", display_text="Open case")},
)
