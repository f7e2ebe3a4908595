"""MDT queue: the cases on a meeting's agenda, and the cases ready for one.

Deep link: ``queue?meeting_id=N``. Navigators and the chair create meetings, put
cases on an agenda, take them off and order it.
"""

import datetime as dt

import pyarrow as pa
import streamlit as st

from cupboard.errors import CupboardError, ValidationError
from cupboard.knowledge.pathway import CASE_STATUS_CODES, CASE_STATUS_LABELS
from cupboard.permissions import may
from cupboard.services import queue
from cupboard.services.case_record import site_label
from cupboard.services.context import ServiceContext
from cupboard.services.meetings import (
    add_to_agenda,
    create_meeting,
    move_agenda_item,
    remove_from_agenda,
)
from cupboard.services.queue import MeetingOption, QueueFilter, QueuePage, QueueRow, StaffMember
from cupboard.ui.cache import cached_read
from cupboard.ui.case_panels import flash, show_flash
from cupboard.ui.guard import page_guard, show_error
from cupboard.ui.interop_widgets import queue_download_buttons
from cupboard.ui.navigation import PAGES_DIR

ctx = page_guard("view_cases")
can_schedule = may(ctx.actor.role, "schedule_meeting")
today = dt.date.today()
# "Ready, not on a meeting": the longest waiting first, a page at a time.
READY_PAGE = 15
READY_LIMIT_KEY = "queue_ready_limit"
NEW_MEETING_KEY = "queue_new_meeting_open"
EXPORT_KEY = "queue_export_open"
ORDER_KEY = "queue_order_open"
st.session_state.setdefault(READY_LIMIT_KEY, READY_PAGE)


# One read for the whole page, cached until the next write anywhere (cupboard/ui/cache.py):
# every change this page makes (a meeting, an agenda item, its order) writes, so the
# rerun after it reads afresh. One read, not one per part: each costs a version check
# and a cache lookup.
@cached_read()
def load_queue(
    ctx: ServiceContext,
    chosen: int | None,
    include: int | None,
    filters: QueueFilter,
    today: dt.date,
    ready_limit: int,
) -> tuple[
    list[MeetingOption], list[StaffMember], list[StaffMember], int | None, list[QueueRow], QueuePage
]:
    """The meetings to choose from (``include``: a deep-linked one too), the staff for
    the filters, the meeting shown (the ``chosen`` one, else the deep-linked one, else
    the next), its agenda and the cases ready for a meeting, as filtered."""
    options = queue.meetings(ctx, from_date=today, include=include)
    ids = {m.id for m in options}
    meeting_id = chosen if chosen in ids else include
    if meeting_id not in ids:
        meeting_id = queue.next_meeting_id(options, today)
    navigators = queue.staff(ctx, ("navigator",))
    oncologists = queue.staff(ctx, ("oncologist", "chair"))
    if meeting_id is None:
        return options, navigators, oncologists, None, [], QueuePage((), 0)
    return (
        options,
        navigators,
        oncologists,
        meeting_id,
        queue.meeting_queue(ctx, meeting_id, filters, today),
        queue.ready_not_queued(ctx, filters, today=today, limit=ready_limit),
    )


def _filters_as_set() -> QueueFilter:
    """The filters as their widgets hold them: a widget's value is in the session state
    before the script draws it, so the page can read everything before drawing."""
    state = st.session_state
    filters = QueueFilter(
        tuple(state.get("queue_status") or ()),
        state.get("queue_navigator"),
        state.get("queue_oncologist"),
        state.get("queue_search") or None,
    )
    try:
        filters.validated()
    except ValidationError:
        return QueueFilter()  # the filters are drawn first, then the refusal (below)
    return filters


def _select_meeting(meeting_id: int) -> None:
    st.session_state["queue_meeting"] = meeting_id
    st.query_params["meeting_id"] = str(meeting_id)


def _meeting_changed() -> None:
    st.query_params["meeting_id"] = str(st.session_state["queue_meeting"])


def _create_meeting(context: ServiceContext) -> None:
    try:
        meeting_id = create_meeting(
            context,
            meeting_date=st.session_state["new_meeting_date"],
            title=st.session_state["new_meeting_title"],
        )
    except CupboardError as error:
        flash("queue", "error", str(error))
    else:
        _select_meeting(meeting_id)
        flash("queue", "success", "Meeting created.")


def _add(context: ServiceContext, meeting_id: int) -> None:
    case_id = st.session_state.get("queue_add_case")
    if case_id is None:
        flash("queue", "error", "case: choose a case to add")
        return
    try:
        add_to_agenda(context, meeting_id, case_id, question=st.session_state.get("queue_question"))
    except CupboardError as error:
        flash("queue", "error", str(error))
    else:
        flash("queue", "success", "Case added to the agenda.")
        # Ready for the next one: no question carried over, no patient chosen for them.
        st.session_state["queue_add_case"] = None
        st.session_state["queue_question"] = ""


def _remove(context: ServiceContext, agenda_item_id: int, seen_version: int) -> None:
    try:
        remove_from_agenda(context, agenda_item_id, seen_version)
    except CupboardError as error:
        flash("queue", "error", str(error))
    else:
        flash("queue", "success", "Case taken off the agenda.")


def _show_more_ready() -> None:
    st.session_state[READY_LIMIT_KEY] = min(
        st.session_state[READY_LIMIT_KEY] + READY_PAGE, queue.MAX_READY
    )


def _move(context: ServiceContext, agenda_item_id: int, position: int) -> None:
    try:
        move_agenda_item(context, agenda_item_id, position)
    except CupboardError as error:
        flash("queue", "error", str(error))


def _table(rows: list[QueueRow], *, agenda: bool) -> pa.Table:
    """The rows as the table shows them. An Arrow table, built column by column: it is
    what st.dataframe sends, so nothing is converted on the way (a pandas frame would
    be, at several times the cost)."""
    columns: dict[str, list[object]] = {"#": [r.position for r in rows]} if agenda else {}
    columns |= {
        "Patient": [r.pseudonym for r in rows],
        "Age": [r.age for r in rows],
        "Sex": [r.sex for r in rows],
        "Sites": [", ".join(site_label(s) for s in r.sites) for r in rows],
        "Day": [r.days_on_pathway for r in rows],
        "Workup": [r.workup_label for r in rows],
        "Outstanding": [", ".join(r.outstanding_labels) for r in rows],
        "Missing": [len(r.missing_before_mdt) for r in rows],
        "ECOG": pa.array([r.ecog for r in rows], type=pa.int64()),
        "Favourable": [f"★ {r.favourable_label}" if r.favourable_label else "" for r in rows],
        "Status": [r.status_label for r in rows],
    }
    if agenda:
        columns["Question"] = [r.question or "" for r in rows]
    columns |= {
        "Navigator": [r.navigator or "" for r in rows],
        "Oncologist": [r.oncologist or "" for r in rows],
    }
    return pa.table(columns)


COLUMNS = {
    "#": st.column_config.NumberColumn(width=40),
    "Patient": st.column_config.TextColumn(width="small"),
    "Age": st.column_config.NumberColumn(width=50),
    "Sex": st.column_config.TextColumn(width=70),
    "Day": st.column_config.NumberColumn(
        width=50, help="Calendar days since the pathway started (day 0) [SVF]"
    ),
    "Workup": st.column_config.TextColumn(
        width=70, help="Investigations done, reported or declined / all that apply"
    ),
    "Outstanding": st.column_config.TextColumn(
        width="medium", help="Still to request, requested or booked"
    ),
    "Missing": st.column_config.NumberColumn(
        width=70, help="Required for this presentation and not done yet (guidance)"
    ),
    "ECOG": st.column_config.NumberColumn(width=55, help="Latest ECOG performance status"),
    "Favourable": st.column_config.TextColumn(
        width="medium", help="Favourable subtype by the guidance: manage as [ESMO23]"
    ),
    "Question": st.column_config.TextColumn(width="medium"),
}


OPEN_CASE_KEY = "queue_open_case"


def _open_case_row(rows: list[QueueRow]) -> None:
    """One chip per agenda case; choosing one opens its workspace in this session.

    One widget for the whole agenda: a link per case costs a page element each, and a
    board's agenda runs to 40 cases or more (issue 8: the queue within 10× a trivial
    page). The choice is not kept: leaving the page drops the widget's state, so the
    chips are unselected when the user comes back."""
    by_case = {r.case_id: r for r in rows}
    chosen = st.pills(
        "Open a case",
        list(by_case),
        format_func=lambda case_id: f"#{by_case[case_id].position} {by_case[case_id].pseudonym}",
        key=OPEN_CASE_KEY,
        help="Opens the case workspace (deep link: case?case_id=…)",
    )
    if chosen is not None:
        case_page = st.Page(PAGES_DIR / "case.py", title="Case", url_path="case")
        st.switch_page(case_page, query_params={"case_id": str(chosen)})


st.title("MDT queue")
show_flash("queue")

raw_meeting = st.query_params.get("meeting_id", "")
deep_link = int(raw_meeting) if raw_meeting.isdigit() else None
requested = _filters_as_set()
ready_limit = st.session_state[READY_LIMIT_KEY]
try:
    options, navigators, oncologists, shown_id, rows, ready = load_queue(
        ctx, st.session_state.get("queue_meeting"), deep_link, requested, today, ready_limit
    )
except CupboardError as error:
    show_error(error)
    st.stop()
by_id = {m.id: m for m in options}

top = st.columns([5, 2, 2], vertical_alignment="bottom")
# The tools below open on demand and run only while open (on_change="rerun"): the
# agenda is what every visit needs; each tool's widgets cost time on every rerun.
if can_schedule:
    new_meeting = top[2].popover(
        "New meeting", icon=":material/add:", key=NEW_MEETING_KEY, on_change="rerun"
    )
    if new_meeting.open:
        with new_meeting:
            st.date_input("Meeting date", value=today, key="new_meeting_date")
            st.text_input("Title", value="CUP MDT", key="new_meeting_title")
            st.button(
                "Create meeting",
                type="primary",
                on_click=_create_meeting,
                args=(ctx,),
                key="new_meeting",
            )
if not options:
    st.info("No upcoming MDT meetings. A navigator or the chair can create one.")
    st.stop()

if st.session_state.get("queue_meeting") != shown_id:
    st.session_state["queue_meeting"] = shown_id
meeting_id = top[0].selectbox(
    "Meeting",
    list(by_id),
    format_func=lambda m: by_id[m].label,
    key="queue_meeting",
    on_change=_meeting_changed,
)
meeting = by_id[meeting_id]
with top[1]:
    st.page_link(
        "pages/meeting.py",
        label="Meeting mode",
        icon=":material/co_present:",
        query_params={"meeting_id": str(meeting.id)},
    )

filters_row = st.columns([3, 2, 2, 3])
statuses = filters_row[0].multiselect(
    "Status",
    CASE_STATUS_CODES,
    format_func=CASE_STATUS_LABELS.__getitem__,
    key="queue_status",
    placeholder="All statuses",
)
navigator = filters_row[1].selectbox(
    "Navigator",
    [None, *[m.id for m in navigators]],
    format_func=lambda i: "All" if i is None else {m.id: m.name for m in navigators}[i],
    key="queue_navigator",
)
oncologist = filters_row[2].selectbox(
    "Oncologist",
    [None, *[m.id for m in oncologists]],
    format_func=lambda i: "All" if i is None else {m.id: m.name for m in oncologists}[i],
    key="queue_oncologist",
)
search = filters_row[3].text_input(
    "Search", key="queue_search", placeholder="Pseudonym, MRN or name", max_chars=queue.MAX_SEARCH
)
filters = QueueFilter(tuple(statuses), navigator, oncologist, search or None)
if (meeting.id, filters) != (shown_id, requested):
    # The widgets hold other values than the read assumed (one dropped a stale choice,
    # or a filter is refused): read what is on screen, and say why if it is refused.
    try:
        *_, rows, ready = load_queue(ctx, meeting.id, deep_link, filters, today, ready_limit)
    except CupboardError as error:
        show_error(error)
        st.stop()

metrics = st.columns(4)
metrics[0].metric("On the agenda", len(rows))
metrics[1].metric("Favourable subtype", sum(1 for r in rows if r.favourable_subtype))
metrics[2].metric("Missing required workup", sum(1 for r in rows if r.missing_before_mdt))
metrics[3].metric("Ready, not on a meeting", ready.total)

st.subheader(f"Agenda · {meeting.meeting_date:%a %d %b %Y}")
if rows:
    st.dataframe(_table(rows, agenda=True), hide_index=True, column_config=COLUMNS, key="agenda")
    _open_case_row(rows)
else:
    st.caption("No cases on this agenda" + (" match the filters." if filters.search else "."))
if meeting.cases and may(ctx.actor.role, "export_data"):
    export = st.expander(
        "Export this agenda", icon=":material/download:", key=EXPORT_KEY, on_change="rerun"
    )
    if export.open:
        with export:
            queue_download_buttons(ctx, meeting.id)

if can_schedule and rows:
    order = st.expander(
        "Order the agenda, or take a case off",
        icon=":material/swap_vert:",
        key=ORDER_KEY,
        on_change="rerun",
    )
    if order.open:
        with order:
            items = {r.agenda_item_id: r for r in rows if r.agenda_item_id is not None}
            cols = st.columns([4, 1, 1, 2, 1, 2], vertical_alignment="bottom")
            chosen_id = cols[0].selectbox(
                "Case",
                list(items),
                format_func=lambda i: f"#{items[i].position} · {items[i].pseudonym}",
                key="queue_item",
            )
            chosen = items[chosen_id]
            assert chosen.position is not None
            cols[1].button(
                "▲ Up",
                key="queue_up",
                disabled=chosen.position <= 1,
                on_click=_move,
                args=(ctx, chosen_id, chosen.position - 1),
            )
            cols[2].button(
                "▼ Down",
                key="queue_down",
                disabled=chosen.position >= meeting.cases,
                on_click=_move,
                args=(ctx, chosen_id, chosen.position + 1),
            )
            target = cols[3].number_input(
                "Position",
                min_value=1,
                max_value=max(meeting.cases, 1),
                value=chosen.position,
                step=1,
            )
            cols[4].button(
                "Move", key="queue_move", on_click=_move, args=(ctx, chosen_id, int(target))
            )
            cols[5].button(
                "Remove from meeting",
                key="queue_remove",
                on_click=_remove,
                args=(ctx, chosen_id, chosen.agenda_version),
            )


st.subheader(f"Ready for MDT, not on an upcoming meeting ({ready.total})")
if ready.rows:
    st.dataframe(
        _table(list(ready.rows), agenda=False), hide_index=True, column_config=COLUMNS, key="ready"
    )
    if ready.total > len(ready.rows):
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            st.caption(
                f"Showing the {len(ready.rows)} longest waiting; narrow with the filters.",
                width="content",
            )
            if len(ready.rows) < queue.MAX_READY:
                st.button("Show more", key="queue_ready_more", on_click=_show_more_ready)
    if can_schedule:
        ready_by_id = {r.case_id: r for r in ready.rows}
        cols = st.columns([3, 2, 5, 3], vertical_alignment="bottom")
        add_case = cols[0].selectbox(
            "Case",
            list(ready_by_id),
            format_func=lambda c: (
                f"{ready_by_id[c].pseudonym} (day {ready_by_id[c].days_on_pathway})"
            ),
            index=None,
            placeholder="Choose a case",
            key="queue_add_case",
        )
        if add_case is not None:
            with cols[1]:
                st.page_link(
                    "pages/case.py", label="Open case", query_params={"case_id": str(add_case)}
                )
        cols[2].text_input(
            "Question for the board", key="queue_question", placeholder="e.g. Primary site?"
        )
        cols[3].button(
            f"Add to meeting of {meeting.meeting_date:%d %b}",
            key="queue_add",
            type="primary",
            on_click=_add,
            args=(ctx, meeting.id),
        )
else:
    st.caption("No case is waiting for a meeting.")
