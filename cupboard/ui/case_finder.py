"""The case finder: one search box for any patient's case, on every screen that opens one.

The search runs in the service (``services/case_finder.find_cases``): name, MRN or
personal number, pseudonym; open and closed cases; best match first. A choice is
handed to the page once, and the chips are cleared at once, so that coming back to the
page does not open the same case again.
"""

from __future__ import annotations

import streamlit as st

from cupboard.errors import CupboardError
from cupboard.services.case_finder import MAX_TERM, FoundCase, find_cases
from cupboard.services.context import ServiceContext
from cupboard.ui.guard import show_error
from cupboard.ui.text import escape_markdown


def _chip(found: FoundCase) -> str:
    return escape_markdown(found.label)


def _hand_over(key: str) -> None:
    st.session_state[f"{key}_open"] = st.session_state.get(f"{key}_pick")
    st.session_state[f"{key}_pick"] = None


def case_finder(
    ctx: ServiceContext,
    *,
    key: str,
    deidentified: bool = False,
    label: str = "Find a case",
) -> int | None:
    """A search box and its matches as chips; returns the case chosen in this run."""
    term = st.text_input(
        label,
        key=f"{key}_term",
        max_chars=MAX_TERM,
        placeholder=(
            "Pseudonym (CUP-00012 or 12)"
            if deidentified
            else "Name, MRN or personal number, or pseudonym"
        ),
        help="Open and closed cases. Accents and case do not matter; the start of a "
        "name or number is enough. Best matches first, newest referral first.",
    )
    chosen = st.session_state.pop(f"{key}_open", None)
    if not term.strip():
        return chosen
    try:
        found = find_cases(ctx, term, deidentified=deidentified)
    except CupboardError as error:
        show_error(error)
        return chosen
    if not found:
        st.caption("No case matches. Try the start of the surname or of the number.")
        return chosen
    by_case = {f.case_id: f for f in found}
    st.pills(
        "Matching cases",
        list(by_case),
        format_func=lambda case_id: _chip(by_case[case_id]),
        key=f"{key}_pick",
        on_change=_hand_over,
        args=(key,),
        help="Choose a case to open it",
    )
    return chosen
