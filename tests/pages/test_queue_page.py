"""The MDT queue page on a seeded demo cohort: rows, filters, and agenda changes (audited)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from cupboard.db import get_engine, unit_of_work
from cupboard.models import AgendaItem, AuditEvent, Case, MdtMeeting, Patient
from cupboard.services import case_record, queue
from cupboard.services.cases import update_case
from cupboard.services.context import ServiceContext
from cupboard.services.meetings import add_to_agenda, create_meeting
from db.demo_cohort import seed_demo_cohort

TODAY = dt.date.today()


@pytest.fixture
def seeded(database_url: str) -> str:
    seed_demo_cohort(database_url, cases=30)
    return database_url


def _next_meeting(url: str) -> int:
    with unit_of_work(url) as session:
        meeting_id = session.scalar(
            select(MdtMeeting.id)
            .where(MdtMeeting.meeting_date >= TODAY)
            .order_by(MdtMeeting.meeting_date, MdtMeeting.id)
            .limit(1)
        )
        assert meeting_id is not None
        return meeting_id


def _agenda(url: str, meeting_id: int) -> list[tuple[int, int, str]]:
    """(agenda item id, case id, pseudonym) in agenda order, read independently."""
    with unit_of_work(url) as session:
        return [
            (item_id, case_id, pseudonym)
            for item_id, case_id, pseudonym in session.execute(
                select(AgendaItem.id, AgendaItem.case_id, Patient.pseudonym)
                .join(Case, AgendaItem.case_id == Case.id)
                .join(Patient, Case.patient_id == Patient.id)
                .where(AgendaItem.meeting_id == meeting_id)
                .order_by(AgendaItem.position)
            )
        ]


def _statuses(url: str, case_ids: list[int]) -> dict[int, str]:
    with unit_of_work(url) as session:
        return dict(
            session.execute(select(Case.id, Case.status).where(Case.id.in_(case_ids))).all()
        )


def _audit(url: str, entity: str, action: str) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == entity, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        )


def _tables(app: Any) -> dict[str, Any]:
    """The agenda (numbered) and the ready-for-MDT tables, by their columns."""
    tables = {}
    for frame in app.dataframe:
        value = frame.value
        tables["agenda" if "#" in value.columns else "ready"] = value
    return tables


def _keys(app: Any) -> set[str]:
    return {w.key for kind in ("selectbox", "button") for w in app.get(kind)}


def _open(app: Any, key: str) -> None:
    """Open a tool that runs only while open (an expander or popover), as a click does."""
    app.session_state[key] = True
    app.run()
    _no_errors(app)


def _no_errors(app: Any) -> None:
    assert not app.exception, app.exception
    assert [e.value for e in app.error] == []


def test_queue_renders_the_next_meetings_agenda_in_order(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    app = open_page("pages/queue.py", role="navigator")
    _no_errors(app)
    assert [t.value for t in app.title] == ["MDT queue"]
    meeting_id = _next_meeting(seeded)
    assert app.selectbox(key="queue_meeting").value == meeting_id
    agenda = _tables(app)["agenda"]
    expected = _agenda(seeded, meeting_id)
    assert list(agenda["Patient"]) == [pseudonym for _, _, pseudonym in expected]
    assert list(agenda["#"]) == list(range(1, len(expected) + 1))
    assert all("/" in w for w in agenda["Workup"])  # e.g. 7/11
    # No identifying details on the queue: the seeded MRNs and names stay off it.
    rendered = repr(app.main)
    assert "DEMO0000" not in rendered
    # Every agenda case has its own chip; choosing one opens the case workspace.
    chips = app.button_group(key="queue_open_case")
    assert chips.options == [f"#{n} {pseudonym}" for n, (_, _, pseudonym) in enumerate(expected, 1)]
    _, case_id, pseudonym = expected[1]
    chips.select(case_id).run()
    _no_errors(app)
    assert [t.value for t in app.title] == [f"Case {pseudonym}"]
    assert app.query_params["case_id"] == str(case_id)
    # Back on the queue, the chips are unselected: the page stays, it does not bounce.
    app.switch_page("pages/queue.py").run()
    _no_errors(app)
    assert [t.value for t in app.title] == ["MDT queue"]
    assert app.button_group(key="queue_open_case").value is None


def test_a_navigator_puts_a_ready_case_on_the_meeting(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    meeting_id = _next_meeting(seeded)
    before = _agenda(seeded, meeting_id)
    app = open_page("pages/queue.py", role="navigator")
    ready = _tables(app)["ready"]
    picker = app.selectbox(key="queue_add_case")
    assert picker.value is None and len(ready) >= 1  # nobody is chosen for the user
    picker.select_index(0).run()
    case_id = app.selectbox(key="queue_add_case").value
    assert case_id is not None
    app.text_input(key="queue_question").input("Primary site? NGS first?")
    app.button(key="queue_add").click().run()
    _no_errors(app)
    # Ready for the next case: the question is not carried over to another patient,
    # and no other patient is chosen in the added one's place.
    assert app.text_input(key="queue_question").value == ""
    assert app.selectbox(key="queue_add_case").value is None

    after = _agenda(seeded, meeting_id)
    assert [c for _, c, _ in after] == [c for _, c, _ in before] + [case_id]
    created = [e for e in _audit(seeded, "agenda_item", "create") if e.case_id == case_id]
    assert len(created) == 1 and created[0].actor_username == "test-navigator"
    assert json.loads(created[0].after)["question"] == "Primary site? NGS first?"
    # The page shows it: on the agenda now, and no longer among the cases waiting.
    added = ready["Patient"].iloc[0]
    assert list(_tables(app)["agenda"]["Patient"])[-1] == added
    waiting = _tables(app).get("ready")
    assert waiting is None or added not in list(waiting["Patient"])


def test_the_agenda_is_reordered_and_a_case_taken_off(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    meeting_id = _next_meeting(seeded)
    first, second, *_ = _agenda(seeded, meeting_id)
    app = open_page("pages/queue.py", role="chair")
    assert "queue_item" not in _keys(app)  # closed, so not run
    _open(app, "queue_order_open")
    assert app.selectbox(key="queue_item").value == first[0]
    app.button(key="queue_down").click().run()
    _no_errors(app)
    order = _agenda(seeded, meeting_id)
    assert [order[0][0], order[1][0]] == [second[0], first[0]]
    moved = [e for e in _audit(seeded, "agenda_item", "update") if e.field == "position"]
    assert {(e.entity_id, json.loads(e.before), json.loads(e.after)) for e in moved} == {
        (first[0], 1, 2),
        (second[0], 2, 1),
    }
    assert {e.actor_username for e in moved} == {"test-chair"}

    app.selectbox(key="queue_item").set_value(first[0]).run()
    app.button(key="queue_remove").click().run()
    _no_errors(app)
    remaining = _agenda(seeded, meeting_id)
    assert first[0] not in [item for item, _, _ in remaining]
    assert len(remaining) == len(order) - 1
    removed = _audit(seeded, "agenda_item", "delete")
    assert [(e.entity_id, e.actor_username) for e in removed] == [(first[0], "test-chair")]


def test_a_navigator_creates_a_meeting_and_it_is_selected(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    app = open_page("pages/queue.py", role="navigator")
    _open(app, "queue_new_meeting_open")
    day = TODAY + dt.timedelta(days=30)
    app.date_input(key="new_meeting_date").set_value(day)
    app.text_input(key="new_meeting_title").input("Extra CUP MDT")
    app.button(key="new_meeting").click().run()
    _no_errors(app)
    with unit_of_work(seeded) as session:
        meeting = session.scalar(select(MdtMeeting).where(MdtMeeting.meeting_date == day))
        assert meeting is not None and meeting.title == "Extra CUP MDT"
        meeting_id = meeting.id
    assert app.selectbox(key="queue_meeting").value == meeting_id
    assert app.query_params["meeting_id"] == str(meeting_id)
    created = _audit(seeded, "mdt_meeting", "create")
    assert created[-1].entity_id == meeting_id and created[-1].actor_username == "test-navigator"


def test_deep_link_and_filters_narrow_the_agenda(
    seeded: str, open_page: Callable[..., Any], contexts: dict[str, ServiceContext]
) -> None:
    with unit_of_work(seeded) as session:
        later = session.scalars(
            select(MdtMeeting.id)
            .where(MdtMeeting.meeting_date >= TODAY)
            .order_by(MdtMeeting.meeting_date)
        ).all()[1]
    expected = _agenda(seeded, later)
    app = open_page("pages/queue.py", role="oncologist", query={"meeting_id": str(later)})
    _no_errors(app)
    assert app.selectbox(key="queue_meeting").value == later
    assert list(_tables(app)["agenda"]["Patient"]) == [p for _, _, p in expected]

    wanted = expected[-1][2]
    app.text_input(key="queue_search").input(wanted.lower()).run()
    assert list(_tables(app)["agenda"]["Patient"]) == [wanted]
    app.text_input(key="queue_search").input("no such patient").run()
    assert "agenda" not in _tables(app)

    # A status filter keeps exactly the agenda's cases in that status, in agenda order:
    # the navigator sends the last case back to workup (a test turned out missing).
    navigator = contexts["navigator"]
    back_to_workup = expected[-1][1]
    version = case_record.case_header(navigator, back_to_workup).version
    update_case(navigator, back_to_workup, version, {"status": "workup_in_progress"})
    statuses = _statuses(seeded, [case_id for _, case_id, _ in expected])
    assert len(set(statuses.values())) >= 2  # so that each status narrows the agenda
    app.text_input(key="queue_search").input("").run()
    for status in sorted(set(statuses.values())):
        app.multiselect(key="queue_status").set_value([status]).run()
        _no_errors(app)
        shown = list(_tables(app)["agenda"]["Patient"])
        assert shown == [p for _, case_id, p in expected if statuses[case_id] == status]
    app.multiselect(key="queue_status").set_value(["closed"]).run()
    assert "agenda" not in _tables(app)  # no closed case is queued


def test_a_viewer_sees_the_queue_but_cannot_change_it(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    app = open_page("pages/queue.py", role="viewer")
    _no_errors(app)
    assert len(_tables(app)["agenda"]) > 0
    # Not even a tool forced open gives a viewer the controls.
    for key in ("queue_order_open", "queue_new_meeting_open", "queue_export_open"):
        app.session_state[key] = True
    app.run()
    _no_errors(app)
    keys = {b.key for b in app.button}
    assert not keys & {"queue_add", "queue_remove", "queue_up", "queue_down", "new_meeting"}


@contextmanager
def _statements(url: str) -> Iterator[list[str]]:
    """Every SQL statement sent through SQLAlchemy while the block runs."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append(statement)

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_rerun_reads_the_cache_until_anyone_writes(
    seeded: str, open_page: Callable[..., Any], contexts: dict[str, ServiceContext]
) -> None:
    app = open_page("pages/queue.py", role="navigator")
    app.run()  # the session has settled on its meeting (the first run chose the next one)
    meeting_id = _next_meeting(seeded)
    before = list(_tables(app)["agenda"]["Patient"])
    with _statements(seeded) as sent:
        app.run()
    _no_errors(app)
    assert not [s for s in sent if "investigations" in s]  # nothing recomputed
    assert list(_tables(app)["agenda"]["Patient"]) == before

    # Someone else, in another session, puts a waiting case on the agenda.
    waiting = queue.ready_not_queued(contexts["chair"]).rows[0]
    add_to_agenda(contexts["chair"], meeting_id, waiting.case_id)
    with _statements(seeded) as sent:
        app.run()
    _no_errors(app)
    assert [s for s in sent if "investigations" in s]  # read afresh
    assert list(_tables(app)["agenda"]["Patient"]) == [*before, waiting.pseudonym]


def test_ready_cases_show_a_page_at_a_time_and_more_on_request(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    navigator = contexts["navigator"]
    create_meeting(navigator, meeting_date=TODAY + dt.timedelta(days=7))
    waiting = []
    for n in range(17):
        case_id = make_case(referral_date=TODAY - dt.timedelta(days=40 - n))
        version = case_record.case_header(navigator, case_id).version
        update_case(navigator, case_id, version, {"status": "ready_for_mdt"})
        waiting.append(case_id)
    app = open_page("pages/queue.py", role="navigator")
    _no_errors(app)
    assert len(_tables(app)["ready"]) == 15
    assert app.metric[3].value == "17"
    assert "Showing the 15 longest waiting" in " ".join(c.value for c in app.caption)
    first_page = list(_tables(app)["ready"]["Patient"])
    app.button(key="queue_ready_more").click().run()
    _no_errors(app)
    ready = list(_tables(app)["ready"]["Patient"])
    assert len(ready) == 17 and ready[:15] == first_page  # longest waiting first
    assert "queue_ready_more" not in {b.key for b in app.button}  # all shown now
    assert app.selectbox(key="queue_add_case").options.__len__() == 17


def test_the_agenda_can_be_exported_by_those_who_may_export(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    app = open_page("pages/queue.py", role="navigator")
    _no_errors(app)
    assert "Export this agenda" in [e.label for e in app.expander]
    assert not app.get("download_button")  # runs only when opened
    _open(app, "queue_export_open")
    assert [b.label for b in app.get("download_button")] == ["Download agenda"]
    assert [c.value for c in app.checkbox] == [False]  # pseudonymised unless ticked
    assert not _audit(seeded, "mdt_meeting", "export")  # drawing it exported nothing
    viewer = open_page("pages/queue.py", role="viewer")
    assert len(viewer.get("download_button")) == 0
    assert "Export this agenda" not in [e.label for e in viewer.expander]
