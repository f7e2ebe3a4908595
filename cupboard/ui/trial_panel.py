"""The "Clinical trials" section where the board decides (issue 19): the few recruiting
trials this case could enter, eligible first, then possibly eligible with what still
stands in the way. Shared by the case page and meeting mode; the matching is
:func:`cupboard.services.trials.trial_matches`, run for this one case on view.
Trial titles and contacts are user text: shown escaped, never as HTML.
"""

from __future__ import annotations

import streamlit as st

from cupboard.guidance import CaseProfile, Guidance
from cupboard.services.context import ServiceContext
from cupboard.services.trials import trial_matches
from cupboard.trials import ELIGIBLE, RankedMatch
from cupboard.ui.text import escape_markdown as esc


def _heading(ranked: RankedMatch) -> str:
    trial = ranked.trial
    phase = f" ({trial.phase})" if trial.phase else ""
    return f"{trial.identifier} — {trial.title}{phase}"


def clinical_trials(
    ctx: ServiceContext,
    profile: CaseProfile,
    guidance: Guidance,
    *,
    limit: int = 3,
    compact: bool = False,
) -> None:
    """The best few matches with their reasons; nothing is decided here."""
    st.markdown("**Clinical trials** (recruiting; the board decides)")
    matches = trial_matches(ctx, profile, guidance, limit=limit)
    if not matches:
        st.caption("No recruiting trial in the register that this case could enter.")
        return
    for ranked in matches:
        heading = esc(_heading(ranked))
        if ranked.match.state == ELIGIBLE:
            met = "; ".join(ranked.match.met)
            body = f"**Eligible:** {heading}" + ("" if compact or not met else f"\n\n{esc(met)}")
            st.success(body, icon=":material/task_alt:")
        else:
            unknown = "; ".join(f"{u.criterion}: {u.reason}" for u in ranked.match.unknown)
            st.info(
                f"**Possibly eligible:** {heading}\n\nTo decide: {esc(unknown)}",
                icon=":material/help:",
            )
        if not compact and ranked.trial.site_contact:
            st.caption(f"Contact: {esc(ranked.trial.site_contact)}")
