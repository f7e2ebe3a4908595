"""After the board's decision: the day treatment started and the follow-up visits.

These dates clear the worklist's "treatment not started" and "follow-up overdue"
rows; the navigator, oncologist or chair records them on the case's Decision tab.
Only current decisions are offered (an amended one lives on in its amendment).
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from cupboard.errors import CupboardError
from cupboard.permissions import may
from cupboard.services.case_record import CaseRecord, DecisionRow
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import update_follow_up
from cupboard.ui.case_panels import flash, show_flash
from cupboard.ui.text import escape_markdown as esc

ACTION = "update_decision_follow_up"


def _save(ctx: ServiceContext, decision: DecisionRow, key: str) -> None:
    k = f"{key}_{decision.id}_{decision.version}"
    changes = {
        "treatment_started_on": st.session_state.get(f"{k}_started"),
        "follow_up_due": st.session_state.get(f"{k}_due"),
        "follow_up_done_on": st.session_state.get(f"{k}_done"),
    }
    try:
        changed = update_follow_up(ctx, decision.id, decision.version, changes)
    except CupboardError as error:
        flash(f"{key}_follow_up", "error", str(error))
    else:
        flash(
            f"{key}_follow_up",
            "success",
            "Treatment and follow-up saved." if changed else "Nothing changed.",
        )


def follow_up_section(ctx: ServiceContext, record: CaseRecord, *, key: str) -> None:
    """Treatment start, next follow-up and follow-up done for each current decision."""
    current = [d for d in record.decisions if not d.superseded]
    if not current:
        return
    st.subheader("Treatment and follow-up")
    show_flash(f"{key}_follow_up")
    editable = may(ctx.actor.role, ACTION)
    today = dt.date.today()
    for decision in current:
        k = f"{key}_{decision.id}_{decision.version}"
        with st.container(border=True):
            st.markdown(f"**{esc(decision.label)}** · decided {decision.decided_on.isoformat()}")
            if not editable:
                st.text(
                    f"Treatment started: {_day(decision.treatment_started_on)} · "
                    f"follow-up due: {_day(decision.follow_up_due)} · "
                    f"follow-up done: {_day(decision.follow_up_done_on)}"
                )
                continue
            cols = st.columns([3, 3, 3, 2], vertical_alignment="bottom")
            cols[0].date_input(
                "Treatment started",
                value=decision.treatment_started_on,
                min_value=decision.decided_on,
                key=f"{k}_started",
            )
            cols[1].date_input("Follow-up due", value=decision.follow_up_due, key=f"{k}_due")
            cols[2].date_input(
                "Follow-up done",
                value=decision.follow_up_done_on,
                max_value=today,
                key=f"{k}_done",
                help="The day of the visit; the next one is set in 'Follow-up due'",
            )
            cols[3].button(
                "Save",
                key=f"{key}_{decision.id}_follow_up_save",
                on_click=_save,
                args=(ctx, decision, key),
            )


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day else "—"
