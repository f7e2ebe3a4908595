"""Audit trail: who changed what, when, from what to what. Deep link: ``audit?case_id=12``."""

import streamlit as st

from cupboard import validation as v
from cupboard.errors import CupboardError
from cupboard.services.audit_trail import (
    AUDIT_ACTIONS,
    DEFAULT_PAGE_SIZE,
    AuditFilter,
    audit_trail,
    visible_entities,
)
from cupboard.services.case_finder import MAX_TERM, cases_named_by
from cupboard.ui.guard import page_guard, show_error
from cupboard.ui.text import escape_markdown

ctx = page_guard("view_audit")

st.title("Audit trail")
st.caption(
    "Every creation and change of clinical data, newest first, with who, when, and the "
    "value before → after (times in UTC). The trail is append-only: a correction is a "
    "new entry and never rewrites an earlier one."
)

ALL = "(all)"
raw_case = st.query_params.get("case_id", "")
if "audit_case" not in st.session_state and raw_case.isdigit():
    st.session_state["audit_case"] = raw_case

columns = st.columns(6)
case_text = columns[0].text_input(
    "Case",
    key="audit_case",
    max_chars=MAX_TERM,
    placeholder="Id, pseudonym or MRN",
    help="The case id (a number), or the patient's pseudonym or MRN exactly",
)
user = columns[1].text_input("User", key="audit_user", max_chars=64)
entity = columns[2].selectbox("Record", [ALL, *visible_entities(ctx)], key="audit_entity")
action = columns[3].selectbox("Action", [ALL, *AUDIT_ACTIONS], key="audit_action")
from_date = columns[4].date_input("From", value=None, key="audit_from")
to_date = columns[5].date_input("To", value=None, key="audit_to")

case_id: int | None = None
if case_text.strip().isdigit() and v.optional_record_id("case_id", case_text) is not None:
    case_id = int(case_text)
elif case_text.strip():
    try:
        named = cases_named_by(ctx, case_text)
    except CupboardError as error:
        show_error(error)
        st.stop()
    if len(named) != 1:
        st.error(
            escape_markdown(
                f"Case: no case has the pseudonym or MRN {case_text.strip()!r}; type the "
                "case id, or find the case on the Case page"
                if not named
                else "Case: this patient has cases "
                + ", ".join(str(f.case_id) for f in named)
                + "; type the case id of the one you mean"
            ),
            icon="⛔",
        )
        st.stop()
    case_id = named[0].case_id

filters = AuditFilter(
    case_id=case_id,
    username=user or None,
    entity=None if entity == ALL else entity,
    action=None if action == ALL else action,
    from_date=from_date,
    to_date=to_date,
)

# Older pages are reached by a cursor; the stack of cursors walks back to newer ones.
# A new filter starts again from the newest entry.
if st.session_state.get("audit_filters") != filters:
    st.session_state["audit_filters"] = filters
    st.session_state["audit_cursors"] = [None]
cursors: list[int | None] = st.session_state["audit_cursors"]

try:
    page = audit_trail(ctx, filters, before_id=cursors[-1], limit=DEFAULT_PAGE_SIZE)
except CupboardError as refused:
    show_error(refused)
    st.stop()

first = (len(cursors) - 1) * DEFAULT_PAGE_SIZE + 1
if not page.rows:
    st.info("No audit entries match these filters.")
else:
    st.caption(f"Entries {first}–{first + len(page.rows) - 1}")

# Every value is user text: st.text shows it literally, never as HTML or markdown.
for row in page.rows:
    with st.container(border=True):
        where = f"case {row.case_id}" if row.case_id is not None else "no case"
        record = row.entity if row.entity_id is None else f"{row.entity} #{row.entity_id}"
        version = f" v{row.entity_version}" if row.entity_version is not None else ""
        st.text(
            f"{row.occurred_at:%Y-%m-%d %H:%M:%S} · {row.actor} · {row.action} · "
            f"{record}{version} · {where}"
        )
        st.text(row.change)
        if row.reason and row.action in ("create", "update"):
            st.text(f"reason: {row.reason}")


def _older(cursor: int | None) -> None:
    st.session_state["audit_cursors"].append(cursor)


def _newer() -> None:
    st.session_state["audit_cursors"].pop()


left, right = st.columns(2)
left.button("← Newer", on_click=_newer, disabled=len(cursors) <= 1, key="audit_newer")
right.button(
    "Older →",
    on_click=_older,
    args=(page.next_before_id,),
    disabled=page.next_before_id is None,
    key="audit_older",
)
