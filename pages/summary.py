"""Before clinic: the oncologist's summary of one case, and its outcome letter (PDF).

One column, no tabs or expanders, tables as static tables: the browser's Print gives
the whole summary on paper. The letter to the GP / referrer is made when the button
is clicked, and each download is recorded in the audit trail.
"""

import pandas as pd
import streamlit as st

from cupboard.errors import CupboardError
from cupboard.permissions import may
from cupboard.services import clinic_summary
from cupboard.ui.case_finder import case_finder
from cupboard.ui.case_panels import (
    case_caption,
    decision_card,
    ecog_chart,
    findings_summary,
    latest_ecog_metric,
    timeline_frame,
)
from cupboard.ui.downloads import download_button
from cupboard.ui.guard import page_guard, show_error
from cupboard.ui.referrals_panel import referrals_frame
from cupboard.ui.text import escape_markdown

ctx = page_guard("view_cases")


def static_table(frame: pd.DataFrame) -> None:
    """A print-friendly table; st.table reads cells as markdown, so escape them."""
    st.table(frame.astype(str).map(escape_markdown), hide_index=True)


def open_summary(chosen: int | None) -> None:
    if chosen is not None:
        st.query_params["case_id"] = str(chosen)  # a deep link to this summary
        st.rerun()


raw_case_id = st.query_params.get("case_id", "")
if not raw_case_id.isdigit():
    st.title("Before clinic")
    # Any patient, open or closed (a follow-up visit after the case was closed).
    open_summary(case_finder(ctx, key="summary_finder"))
    mine = clinic_summary.clinic_cases(ctx, mine=True)
    cases = mine or clinic_summary.clinic_cases(ctx, mine=False)
    if not cases:
        st.stop()
    chosen = st.selectbox(
        "Your patients" if mine else "Open cases, most recently started first",
        cases,
        index=None,
        format_func=lambda c: f"{c.pseudonym} · pathway start {c.pathway_start.isoformat()}",
        key="summary_case",
    )
    open_summary(chosen.case_id if chosen is not None else None)
    st.stop()

case_id = int(raw_case_id)
try:
    view = clinic_summary.clinic_summary(ctx, case_id)
except CupboardError as error:
    show_error(error)
    st.stop()
record, letter = view.record, view.letter
header = record.header

st.title(f"Before clinic · {header.pseudonym}")
st.markdown(f"**{escape_markdown(case_caption(header))}**")
st.caption(
    escape_markdown(
        f"{header.diagnostic_stage_label} · oncologist {header.oncologist or '—'} · "
        f"CUP nurse {header.navigator or '—'}"
    )
)
if may(ctx.actor.role, "export_data"):
    download_button(
        "Download the outcome letter for the GP / referrer (PDF)",
        lambda: clinic_summary.export_outcome_letter(ctx, case_id),
        file_name=letter.file_name,
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        key="summary_letter",
    )
    st.caption(
        "The letter names the patient (name, date of birth, hospital number) for the GP; "
        "each download is recorded in the audit trail. Print this page with your browser "
        "for the full summary."
    )
else:
    st.caption(
        f"Your role ({ctx.actor.role}) may read this summary but not export the letter. "
        "Print this page with your browser for a paper copy."
    )

st.header("Decisions")
if not record.decisions:
    st.text("No decision recorded yet.")
for decision in record.decisions:
    with st.container(border=True):
        decision_card(decision)

st.header("Referrals")
if view.referrals:
    static_table(referrals_frame(view.referrals))
else:
    st.text("No referral made beside the decision.")

st.header("Performance status (ECOG)")
latest_ecog_metric(record.ecog)
if record.ecog:
    ecog_chart(record, height=320)
    static_table(
        pd.DataFrame(
            {
                "Observed": [p.observed_on.isoformat() for p in record.ecog],
                "ECOG": [p.score for p in record.ecog],
                "Weight (kg)": [
                    f"{p.weight_kg:g}" if p.weight_kg is not None else "" for p in record.ecog
                ],
            }
        )
    )

st.header("Latest findings")
findings_summary(record.findings, picture=record.picture, compact=True)

st.header("Workup outstanding")
if letter.outstanding:
    static_table(pd.DataFrame({"Investigation": list(letter.outstanding)}))
else:
    st.text("None: the standard workup is complete.")

st.header("History")
static_table(timeline_frame(record.timeline))
