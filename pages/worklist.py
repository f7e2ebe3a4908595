"""Navigator worklist: what needs a nurse's action, most urgent first; bulk status changes."""

import datetime as dt

import pandas as pd
import streamlit as st

from cupboard.errors import CupboardError
from cupboard.knowledge.investigations import (
    INVESTIGATION_STATUS_CODES,
    INVESTIGATION_STATUS_LABELS,
)
from cupboard.permissions import may
from cupboard.services import worklist as worklist_service
from cupboard.services.context import ServiceContext
from cupboard.ui.cache import cached_read
from cupboard.ui.guard import page_guard
from cupboard.ui.navigation import PAGES_DIR
from cupboard.ui.text import escape_markdown
from cupboard.worklist import WORKLIST_KINDS, rule_descriptions

ctx = page_guard("view_cases")
today = dt.date.today()

# The rows as the user saw them (ids and versions), kept from the run that drew the
# table: a bulk change is checked against these versions, not against a fresh read.
SHOWN_KEY = "worklist_shown"
NONCE_KEY = "worklist_editor_nonce"
OUTCOME_KEY = "worklist_outcome"
LIMIT_KEY = "worklist_limit"
KIND_LABELS = {k.code: k.label for k in WORKLIST_KINDS}

st.session_state.setdefault(NONCE_KEY, 0)
st.session_state.setdefault(LIMIT_KEY, worklist_service.PAGE_SIZE)


@cached_read(per_user=True)  # "My cases" depends on who asks
def load_worklist(
    ctx: ServiceContext, mine: bool, kinds: tuple[str, ...], limit: int, today: dt.date
) -> worklist_service.WorklistPage:
    return worklist_service.worklist_page(ctx, mine=mine, kinds=kinds, limit=limit, today=today)


def editor_key() -> str:
    return f"worklist_editor_{st.session_state[NONCE_KEY]}"


def clear_selection() -> None:
    st.session_state[NONCE_KEY] += 1


def change_filter() -> None:
    clear_selection()
    st.session_state[LIMIT_KEY] = worklist_service.PAGE_SIZE


def show_more() -> None:
    clear_selection()  # the table grows: Streamlit starts its editor afresh
    st.session_state[LIMIT_KEY] += worklist_service.PAGE_SIZE


def selected_rows() -> list[dict[str, object]]:
    shown: list[dict[str, object]] = st.session_state.get(SHOWN_KEY, [])
    edits = st.session_state.get(editor_key(), {}).get("edited_rows", {})
    picked = sorted(int(i) for i, edit in edits.items() if edit.get("Select"))
    return [shown[i] for i in picked if i < len(shown)]


def apply_to_selected(action: str) -> None:
    """Button callback: runs before the rerun, so it sees the table the user saw."""
    rows = selected_rows()
    chosen = [
        (int(r["investigation_id"]), int(r["version"]))  # type: ignore[call-overload]
        for r in rows
        if r["investigation_id"] is not None
    ]
    skipped = len(rows) - len(chosen)
    try:
        if action == "status":
            status = st.session_state["worklist_new_status"]
            changes: dict[str, object] = {"status": status}
            if status == "booked":
                changes["booked_for"] = st.session_state["worklist_booked_for"]
            result = worklist_service.bulk_update_investigations(ctx, chosen, changes)
        else:
            result = worklist_service.bulk_mark_reviewed(ctx, chosen)
    except CupboardError as error:
        st.session_state[OUTCOME_KEY] = {"errors": [str(error)], "updated": 0, "unchanged": 0}
        return
    st.session_state[OUTCOME_KEY] = {
        "updated": len(result.updated),
        "unchanged": len(result.unchanged),
        "errors": [f.message for f in result.failures],
        "skipped": skipped,
    }
    clear_selection()


st.title("Navigator worklist")
left, right = st.columns([1, 2])
scope = left.radio(
    "Cases",
    ["My cases", "All cases"],
    index=0 if ctx.actor.role == "navigator" else 1,
    horizontal=True,
    key="worklist_scope",
    on_change=change_filter,
)
kinds = right.multiselect(
    "Show",
    list(KIND_LABELS),
    default=list(KIND_LABELS),
    format_func=KIND_LABELS.get,
    key="worklist_kinds",
    on_change=change_filter,
)

outcome = st.session_state.pop(OUTCOME_KEY, None)
if outcome:
    if outcome["updated"] or outcome["unchanged"]:
        st.success(
            f"Updated {outcome['updated']} row(s)"
            + (f"; {outcome['unchanged']} already had that value" if outcome["unchanged"] else "")
            + "."
        )
    if outcome.get("skipped"):
        st.info(
            f"{outcome['skipped']} selected row(s) are not investigations and were left "
            "unchanged: open the case to act on them."
        )
    for message in outcome["errors"]:
        st.error(escape_markdown(message), icon="⛔")

try:
    chosen = tuple(k for k in KIND_LABELS if k in kinds)  # one order: one cache entry
    page = load_worklist(ctx, scope == "My cases", chosen, st.session_state[LIMIT_KEY], today)
except CupboardError as error:
    st.error(escape_markdown(error), icon="⛔")
    st.stop()
items = page.items
st.caption(
    f"{page.total:,} item(s) need action, {page.overdue:,} overdue · most urgent first "
    "(days overdue, then days on the pathway)"
    + (f" · showing the first {len(items):,}" if page.has_more else "")
)
st.caption(" · ".join(f"{KIND_LABELS[k]}: {page.by_kind[k]:,}" for k in KIND_LABELS))
with st.expander("What puts a row on this list"):
    for label, rule in rule_descriptions(page.policy):
        st.text(f"{label}: {rule}")

if not items:
    st.session_state[SHOWN_KEY] = []
    st.success("Nothing needs action.")
    st.stop()

st.session_state[SHOWN_KEY] = [
    {"investigation_id": i.investigation_id, "version": i.version, "case_id": i.case_id}
    for i in items
]
table = pd.DataFrame(
    [
        {
            "Select": False,
            "Days overdue": i.days_overdue,
            "Patient": i.pseudonym,
            "Needs": i.kind_label,
            "What": i.what,
            "Detail": i.detail,
            "Due": i.due_on,
            "Pathway day": i.pathway_day,
            "Nurse": i.navigator_name or "",
            "Open": f"case?case_id={i.case_id}",
        }
        for i in items
    ]
)
columns = {
    "Select": st.column_config.CheckboxColumn("Select", help="Select rows for a bulk change"),
    "Days overdue": st.column_config.NumberColumn(
        "Days overdue", help="Negative: days left before the target"
    ),
    "Due": st.column_config.DateColumn("Due"),
    # The case's address as text, to share: a link in the table would open a new
    # browser tab, which is a new, signed-out session. Cases open below, in this one.
    "Open": st.column_config.TextColumn("Link", help="The case's address, to share"),
}
OPEN_KEY = "worklist_open_case"


def _open_case_chosen() -> None:
    st.session_state[f"{OPEN_KEY}_chosen"] = st.session_state.get(OPEN_KEY)
    st.session_state[OPEN_KEY] = None


listed = {i.case_id: i.pseudonym for i in items}
st.selectbox(
    "Open a case",
    list(listed),
    index=None,
    format_func=listed.__getitem__,
    placeholder="Choose a patient on this list",
    key=OPEN_KEY,
    on_change=_open_case_chosen,
)
chosen_case = st.session_state.pop(f"{OPEN_KEY}_chosen", None)
if chosen_case is not None:
    st.switch_page(
        st.Page(PAGES_DIR / "case.py", title="Case", url_path="case"),
        query_params={"case_id": str(chosen_case)},
    )


def more_button(page: worklist_service.WorklistPage) -> None:
    if page.has_more:
        st.button(
            f"Show {min(worklist_service.PAGE_SIZE, page.total - len(page.items)):,} more",
            on_click=show_more,
            key="worklist_more",
            help="Rows further down the list, in the same order",
        )


can_update = may(ctx.actor.role, "update_investigation")
if not can_update:
    st.dataframe(table.drop(columns="Select"), hide_index=True, column_config=columns)
    more_button(page)
    st.stop()

st.data_editor(
    table,
    hide_index=True,
    column_config=columns,
    disabled=[c for c in table.columns if c != "Select"],
    key=editor_key(),
)
more_button(page)
st.subheader("Change the selected investigations")
status_col, date_col, apply_col = st.columns([2, 2, 2], vertical_alignment="bottom")
status_col.selectbox(
    "New status",
    INVESTIGATION_STATUS_CODES,
    index=INVESTIGATION_STATUS_CODES.index("booked"),
    format_func=INVESTIGATION_STATUS_LABELS.get,
    key="worklist_new_status",
)
date_col.date_input(
    "Appointment date (when booking)",
    value=dt.date.today() + dt.timedelta(days=7),
    key="worklist_booked_for",
)
apply_col.button(
    "Apply to selected",
    type="primary",
    on_click=apply_to_selected,
    args=("status",),
    key="worklist_apply",
)
st.button(
    "Mark selected results reviewed",
    on_click=apply_to_selected,
    args=("reviewed",),
    key="worklist_reviewed",
)
st.caption(
    "Each row is saved on its own, checked against the version shown here and audited; "
    "a row someone else changed meanwhile is reported by name and left as it was."
)
