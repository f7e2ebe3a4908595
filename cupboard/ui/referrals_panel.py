"""Referrals beside the decision on the case page (issue 21).

The guidance's prompts are offered first, each with its reason and source, and never
ticked for the user: a referral is a clinician's act. Below, the case's referrals with
their status, and for the navigator the next step of each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from cupboard.errors import CupboardError, ValidationError
from cupboard.guidance import Guidance
from cupboard.knowledge.referrals import (
    REFERRAL_KIND_CODES,
    REFERRAL_KIND_LABELS,
    REFERRAL_KINDS_BY_CODE,
    REFERRAL_STATUS_LABELS,
)
from cupboard.permissions import may
from cupboard.services.case_record import DecisionRow
from cupboard.services.context import ServiceContext
from cupboard.services.referrals import (
    ReferralDraft,
    ReferralView,
    case_referrals,
    move_referral,
    request_referrals,
)
from cupboard.ui.case_panels import flash, show_flash
from cupboard.ui.text import escape_markdown as esc


def referrals_frame(referrals: Sequence[ReferralView]) -> pd.DataFrame:
    """The case's referrals as a plain table (also in the before-clinic summary)."""
    return pd.DataFrame(
        {
            "Referral": pd.Series([r.label for r in referrals], dtype="object"),
            "Reason": pd.Series([r.reason for r in referrals], dtype="object"),
            "Requested": pd.Series([r.requested_on.isoformat() for r in referrals], dtype="object"),
            "By": pd.Series([r.requested_by or "" for r in referrals], dtype="object"),
            "Status": pd.Series([r.status_label for r in referrals], dtype="object"),
            "Since": pd.Series([r.status_on.isoformat() for r in referrals], dtype="object"),
        }
    )


def _decision_label(decision: DecisionRow) -> str:
    return f"{decision.decided_on.isoformat()} · {decision.label}"


def _request(
    ctx: ServiceContext, case_id: int, key: str, prompted: dict[str, str], others: list[str]
) -> None:
    """Save the ticked referrals in one go; a refused one saves none."""
    state = st.session_state
    chosen = [code for code in prompted if state.get(f"{key}_prompt_{code}")]
    chosen += [code for code in state.get(f"{key}_others") or [] if code in others]
    if not chosen:
        flash(f"{key}_request", "error", "Tick or choose at least one referral.")
        return
    reason = (state.get(f"{key}_reason") or "").strip()
    drafts = []
    for code in chosen:
        detail = state.get(f"{key}_detail_{code}") if code in ("second_opinion", "other") else None
        drafts.append(
            ReferralDraft(
                code,
                reason or prompted.get(code, ""),
                detail=detail or None,
                prompted=code in prompted,
            )
        )
    try:
        if any(not d.reason for d in drafts):
            raise ValidationError("reason", "is required for a referral the guidance did not offer")
        request_referrals(ctx, case_id, drafts, decision_id=state.get(f"{key}_decision"))
    except CupboardError as error:
        flash(f"{key}_request", "error", str(error))
    else:
        labels = ", ".join(REFERRAL_KIND_LABELS[c] for c in chosen)
        flash(f"{key}_request", "success", f"Referral requested: {labels}.")
        for code in prompted:
            state[f"{key}_prompt_{code}"] = False
        state[f"{key}_others"] = []


def request_form(
    ctx: ServiceContext,
    case_id: int,
    guidance: Guidance,
    decisions: Sequence[DecisionRow],
    referrals: Sequence[ReferralView],
    *,
    key: str,
) -> None:
    """Request referrals beside the decision: the guidance's prompts first (unticked)."""
    show_flash(f"{key}_request")
    made = {r.kind for r in referrals if r.status != "declined_by_patient"}
    prompted = {p.code: p.reason for p in guidance.referrals_to_consider if p.code not in made}
    for p in guidance.referrals_to_consider:
        if p.code in made:
            st.caption(f"Suggested and already requested: {esc(p.label)}.")
    others = [c for c in REFERRAL_KIND_CODES if c not in prompted]
    with st.form(f"{key}_request_form", clear_on_submit=False, border=True):
        for p in guidance.referrals_to_consider:
            if p.code in prompted:
                # Offered, never pre-ticked: the guidance prompts, a clinician refers.
                st.checkbox(
                    f"{p.label} — suggested: {p.reason} [{p.source}]",
                    value=False,
                    key=f"{key}_prompt_{p.code}",
                )
        st.multiselect(
            "Other referrals" if prompted else "Referrals",
            others,
            format_func=REFERRAL_KIND_LABELS.__getitem__,
            key=f"{key}_others",
        )
        cols = st.columns(2)
        for col, code in zip(cols, ("second_opinion", "other"), strict=True):
            label = REFERRAL_KINDS_BY_CODE[code].detail_label or ""
            col.text_input(
                f"{label} ({REFERRAL_KIND_LABELS[code].lower()})", key=f"{key}_detail_{code}"
            )
        st.text_input(
            "Reason (a suggested referral takes the guidance's reason if left empty)",
            key=f"{key}_reason",
        )
        current = [d for d in decisions if not d.superseded]
        st.selectbox(
            "Beside the decision",
            [d.id for d in current],
            index=0 if current else None,
            format_func={d.id: _decision_label(d) for d in current}.__getitem__,
            placeholder="No decision yet",
            key=f"{key}_decision",
        )
        st.form_submit_button(
            "Request referrals",
            on_click=_request,
            args=(ctx, case_id, key, prompted, others),
        )


def _move(ctx: ServiceContext, referral: ReferralView, key: str) -> None:
    status = st.session_state.get(f"{key}_next_{referral.id}")
    on = st.session_state.get(f"{key}_on_{referral.id}") or dt.date.today()
    if not status:
        flash(f"{key}_move", "error", "Choose the referral's next status.")
        return
    try:
        move_referral(ctx, referral.id, status, referral.version, on=on)
    except CupboardError as error:
        flash(f"{key}_move", "error", str(error))
    else:
        flash(
            f"{key}_move",
            "success",
            f"{referral.label}: {REFERRAL_STATUS_LABELS[status].lower()} on {on.isoformat()}.",
        )


def follow_up(ctx: ServiceContext, referrals: Sequence[ReferralView], *, key: str) -> None:
    """The navigator's follow-up: move an open referral to its next status, with the date."""
    show_flash(f"{key}_move")
    open_ones = [r for r in referrals if r.next_statuses]
    if not open_ones:
        return
    st.markdown("**Follow up**")
    for referral in open_ones:
        cols = st.columns([3, 2, 2, 1], vertical_alignment="bottom")
        cols[0].text(f"{referral.label}: {referral.status_label.lower()}")
        cols[1].selectbox(
            "Next status",
            referral.next_statuses,
            index=None,
            format_func=REFERRAL_STATUS_LABELS.__getitem__,
            key=f"{key}_next_{referral.id}",
        )
        cols[2].date_input(
            "On",
            value=dt.date.today(),
            min_value=referral.requested_on,
            max_value=dt.date.today(),
            key=f"{key}_on_{referral.id}",
        )
        cols[3].button(
            "Save",
            key=f"{key}_move_{referral.id}_{referral.version}",
            on_click=_move,
            args=(ctx, referral, key),
        )


def referrals_section(
    ctx: ServiceContext,
    case_id: int,
    guidance: Guidance,
    decisions: Sequence[DecisionRow],
    *,
    key: str,
) -> None:
    """Referrals beside the decision: request them, list them, follow them up."""
    referrals = case_referrals(ctx, case_id)
    st.subheader("Referrals beside the decision")
    st.caption(
        "Palliative care, psycho-oncology, genetics, dietitian, rehabilitation, a second "
        "opinion: care that runs alongside the treatment decision."
    )
    if may(ctx.actor.role, "request_care_referral"):
        request_form(ctx, case_id, guidance, decisions, referrals, key=key)
    elif guidance.referrals_to_consider:
        for p in guidance.referrals_to_consider:
            st.caption(f"Suggested: {esc(p.label)} — {esc(p.reason)} \\[{esc(p.source)}\\]")
    if not referrals:
        st.caption("No referral requested yet.")
        return
    st.dataframe(referrals_frame(referrals), hide_index=True)
    if may(ctx.actor.role, "update_care_referral"):
        follow_up(ctx, referrals, key=key)
