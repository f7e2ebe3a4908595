"""Meeting mode: the board walks the agenda on the projector, one case at a time.

Deep link: ``meeting?meeting_id=N`` (``&item=<agenda item id>`` keeps the place).
De-identified by default: only the pseudonymous id and age are shown. Previous/next
answer to Page Up/Page Down (what presentation clickers send); opening a case stamps
the start of its discussion once the chair has started the meeting.
"""

import datetime as dt

import streamlit as st

from cupboard import validation as v
from cupboard.errors import CupboardError
from cupboard.permissions import may
from cupboard.services import case_record, meeting_mode, queue
from cupboard.services.case_record import CaseRecord, guidance_for
from cupboard.services.context import ServiceContext
from cupboard.services.meeting_mode import MeetingSession, clock, elapsed
from cupboard.ui import case_panels as panels
from cupboard.ui import trial_panel
from cupboard.ui.cache import cached_read
from cupboard.ui.guard import page_guard, show_error
from cupboard.ui.text import escape_markdown as esc

ctx = page_guard("view_cases")
# For the projector: no sidebar clutter (the arrow at the top left brings it back).
st.set_page_config(initial_sidebar_state="collapsed")
can_run = may(ctx.actor.role, "run_meeting")
today = dt.date.today()


# Cached until the next write anywhere (cupboard/ui/cache.py): turning to a case stamps
# its discussion and recording a decision writes, so the screen then reads afresh.
@cached_read()
def load_session(ctx: ServiceContext, meeting_id: int, today: dt.date) -> MeetingSession:
    return meeting_mode.meeting_session(ctx, meeting_id, today)


@cached_read()
def load_record(ctx: ServiceContext, case_id: int, today: dt.date) -> CaseRecord:
    # No history on the projector: the timeline (and the audit trail) is not read.
    return case_record.case_record(ctx, case_id, today, timeline=False)


def _go(context: ServiceContext, session: MeetingSession, agenda_item_id: int) -> None:
    """Turn to a case; while the meeting runs, its discussion time starts."""
    st.query_params["meeting_id"] = str(session.meeting_id)
    st.query_params["item"] = str(agenda_item_id)
    if can_run and session.started_at is not None and session.ended_at is None:
        try:
            meeting_mode.open_case(context, session.meeting_id, agenda_item_id)
        except CupboardError as error:
            panels.flash("meeting", "error", str(error))


def _jump(context: ServiceContext, session: MeetingSession) -> None:
    chosen = st.session_state.get(f"meeting_jump_{session.meeting_id}")
    if chosen is not None:
        _go(context, session, chosen)


def _start(context: ServiceContext, session: MeetingSession, agenda_item_id: int) -> None:
    try:
        meeting_mode.open_case(context, session.meeting_id, agenda_item_id)
    except CupboardError as error:
        panels.flash("meeting", "error", str(error))


def _end(context: ServiceContext, session: MeetingSession) -> None:
    try:
        meeting_mode.end_meeting(context, session.meeting_id)
    except CupboardError as error:
        panels.flash("meeting", "error", str(error))
    else:
        panels.flash("meeting", "success", "Meeting ended; the timings are recorded.")


def _timers(session: MeetingSession, agenda_item_id: int) -> None:
    case = session.cases[session.index_of(agenda_item_id)]
    case_time = clock(elapsed(case.discussion_started_at, case.discussion_ended_at))
    meeting_time = clock(elapsed(session.started_at, session.ended_at))
    st.markdown(f":material/timer: Case **{case_time}** · Meeting **{meeting_time}**")


# ---------------------------------------------------------------------------------
# Which meeting, which case

raw_meeting = st.query_params.get("meeting_id", "")
meeting_id = v.optional_record_id("meeting_id", raw_meeting)
if meeting_id is None:
    meeting_id = queue.next_meeting_id(queue.meetings(ctx, from_date=today), today)
if meeting_id is None:
    st.title("Meeting mode")
    st.info("No upcoming MDT meeting. Create one on the MDT queue.")
    st.page_link("pages/queue.py", label="MDT queue", icon=":material/view_list:")
    st.stop()
try:
    session = load_session(ctx, meeting_id, today)
except CupboardError as error:
    st.title("Meeting mode")
    show_error(error)
    st.stop()
if not session.cases:
    st.title(f"{esc(session.title)} · {session.meeting_date:%a %d %b %Y}")
    st.info("No cases on this agenda yet.")
    st.page_link(
        "pages/queue.py",
        label="Add cases on the MDT queue",
        icon=":material/view_list:",
        query_params={"meeting_id": str(session.meeting_id)},
    )
    st.stop()

raw_item = st.query_params.get("item", "")
index = session.index_of(v.optional_record_id("item", raw_item))
current = session.cases[index]
record = load_record(ctx, current.case_id, today)
guidance = guidance_for(record.profile)
header = record.header
running = session.started_at is not None and session.ended_at is None

# ---------------------------------------------------------------------------------
# Top bar: where we are, moving on, the clock

panels.show_flash("meeting")
bar = st.columns([1.5, 1.5, 4.4, 1.6, 2.6, 1.6], vertical_alignment="center")
previous = session.cases[index - 1] if index > 0 else None
following = session.cases[index + 1] if index + 1 < len(session.cases) else None
bar[0].button(
    "Previous",
    icon=":material/arrow_back:",
    key="meeting_previous",
    disabled=previous is None,
    shortcut="PageUp",
    on_click=_go,
    args=(ctx, session, previous.agenda_item_id if previous else current.agenda_item_id),
    width="stretch",
)
bar[1].button(
    "Next",
    icon=":material/arrow_forward:",
    icon_position="right",
    key="meeting_next",
    type="primary" if current.decision_id is not None else "secondary",
    disabled=following is None,
    shortcut="PageDown",
    on_click=_go,
    args=(ctx, session, following.agenda_item_id if following else current.agenda_item_id),
    width="stretch",
)
bar[2].markdown(
    f"## {index + 1}/{len(session.cases)} · {esc(header.pseudonym)} · "
    f"{header.age} y · {esc(header.sex)}"
)
deidentified = bar[3].toggle(
    "De-identified",
    value=True,
    key="meeting_deidentified",
    help="Hides name, MRN, date of birth and phone: pseudonymous id and age only.",
)
with bar[4]:
    if running:
        st.fragment(run_every=5)(_timers)(session, current.agenda_item_id)
    else:
        _timers(session, current.agenda_item_id)
with bar[5]:
    if can_run and session.started_at is None:
        st.button(
            "Start meeting",
            key="meeting_start",
            type="primary",
            on_click=_start,
            args=(ctx, session, current.agenda_item_id),
            width="stretch",
        )
    elif can_run and running:
        st.button(
            "End meeting", key="meeting_end", on_click=_end, args=(ctx, session), width="stretch"
        )

jump_key = f"meeting_jump_{session.meeting_id}"
st.session_state[jump_key] = current.agenda_item_id
labels = {
    c.agenda_item_id: f"{c.position}{' ✓' if c.decision_id else ''} {c.pseudonym}"
    for c in session.cases
}
st.segmented_control(
    "Agenda",
    list(labels),
    format_func=labels.__getitem__,
    key=jump_key,
    on_change=_jump,
    args=(ctx, session),
    label_visibility="collapsed",
    help="✓ = decision recorded at this meeting",
)
if not deidentified:
    st.text("   ·   ".join(panels.identity_lines(header)))

# ---------------------------------------------------------------------------------
# The case on one screen: question and findings | ECOG and workup gaps | decision

left, middle, right = st.columns([5, 4, 4], gap="medium")
with left:
    question = current.question or "No question given for this case."
    st.markdown(f"### {esc(question)}")
    st.caption(
        esc(
            f"{header.status_label} · pathway day {header.pathway_day} · "
            f"{', '.join(header.site_labels) or 'sites not recorded'}"
            + (f" · {header.lesion_count} lesions" if header.lesion_count is not None else "")
            + (f" · prior malignancy: {header.prior_malignancy}" if header.prior_malignancy else "")
            + (f" · presented by {current.presented_by}" if current.presented_by else "")
        )
    )
    panels.findings_summary(record.findings, picture=record.picture, compact=True, large=True)
    st.divider()
    panels.guidance_panel(
        guidance, compact=True, sections=("subtype", "exclusions", "primaries", "biomarkers")
    )
with middle:
    panels.ecog_chart(record, height=340, font_size=15)
    panels.workup_gaps(record.workup, compact=True)
    panels.guidance_panel(guidance, compact=True, sections=("prognosis", "warnings"))
    # Beside the decision: the trials this patient could enter (issue 19).
    trial_panel.clinical_trials(ctx, record.profile, guidance, compact=True)
with right:
    decision_key = f"meeting_{session.meeting_id}_case_{current.case_id}"
    decided = [d for d in record.current_decisions if d.meeting_id == session.meeting_id]
    if decided:
        panels.show_flash(f"{decision_key}_decision")
        decision = decided[0]
        st.success(f"**Decision recorded:** {esc(decision.label)}", icon=":material/check_circle:")
        panels.decision_card(decision)
        if following is not None:
            st.button(
                f"Next case: {following.pseudonym}",
                icon=":material/arrow_forward:",
                icon_position="right",
                key="meeting_next_case",
                type="primary",
                on_click=_go,
                args=(ctx, session, following.agenda_item_id),
            )
        else:
            st.caption("That was the last case on the agenda.")
        st.page_link(
            "pages/case.py",
            label="Amend on the case page",
            query_params={"case_id": str(current.case_id)},
        )
    else:
        st.markdown("### Decision")
        panels.decision_form(
            ctx,
            record,
            guidance,
            key=decision_key,
            meeting_id=session.meeting_id,
            chair_id=session.chair_id,
            attendees=session.attendees,
            compact=True,
        )
