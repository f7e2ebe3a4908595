"""Case workspace: one case's workup, findings, performance status and decisions."""

import datetime as dt

import streamlit as st

from cupboard.errors import NotFoundError
from cupboard.knowledge.investigations import INVESTIGATION_STATUS_LABELS, INVESTIGATIONS_BY_CODE
from cupboard.knowledge.pathway import CASE_STATUS_LABELS
from cupboard.services import reading
from cupboard.ui.guard import page_guard

ctx = page_guard("view_cases")

raw_case_id = st.query_params.get("case_id", "")
if not raw_case_id.isdigit():
    st.title("Case")
    st.info("Open a case from the MDT queue.")
    st.stop()
try:
    header = reading.case_header(ctx, int(raw_case_id))
except NotFoundError as missing:
    st.error(str(missing))
    st.stop()

st.title(f"Case {header.pseudonym}")
st.caption(
    f"{header.sex}, {header.age} y · {CASE_STATUS_LABELS.get(header.status, header.status)}"
    f" · pathway day {(dt.date.today() - header.pathway_start).days}"
)
st.subheader("Workup")
st.dataframe(
    [
        {
            "Investigation": INVESTIGATIONS_BY_CODE[r.code].label,
            "Status": INVESTIGATION_STATUS_LABELS[r.status],
            "Requested": r.requested_on,
            "Booked for": r.booked_for,
            "Done": r.done_on,
            "Reported": r.reported_on,
        }
        for r in reading.investigations(ctx, header.case_id)
    ],
    hide_index=True,
)
