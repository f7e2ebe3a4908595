"""Meeting mode: walks the agenda, records a decision per case, keeps time, and in
de-identified mode shows no name, MRN, birth date or phone anywhere on the page."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import AgendaItem, AuditEvent, Case, Decision, MdtMeeting, Patient
from cupboard.services.context import ServiceContext
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.services.performance import record_ecog
from db.demo_cohort import seed_demo_cohort

TODAY = dt.date.today()


def _no_errors(app: Any) -> None:
    assert not app.exception, app.exception
    assert [e.value for e in app.error] == []


def _rendered(node: Any) -> str:
    """Every piece of text the page sends to the browser: each element's message
    (labels, values, options, table cells, chart data) and its children's."""
    parts = []
    proto = getattr(node, "proto", None)
    if proto is not None:
        parts.append(str(proto))
    children = getattr(node, "children", None) or {}
    parts.extend(_rendered(child) for child in children.values())
    return "\n".join(parts)


def _record(app: Any, key: str, code: str, rationale: str, **detail: str) -> None:
    app.selectbox(key=f"{key}_code").set_value(code).run()
    form_key = f"{key}_form_{code}_0"
    for field, value in detail.items():
        app.text_area(key=f"{form_key}_{field}").input(value)
    app.text_area(key=f"{form_key}_rationale").input(rationale)
    next(b for b in app.button if b.label == "Record decision").click().run()


def _items(url: str, meeting_id: int) -> list[AgendaItem]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AgendaItem)
                .where(AgendaItem.meeting_id == meeting_id)
                .order_by(AgendaItem.position)
            )
        )


def test_the_board_steps_through_a_two_case_agenda_deciding_each(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
    database_url: str,
) -> None:
    navigator, chair = contexts["navigator"], contexts["chair"]
    first, second = make_case(name="Ann First"), make_case(name="Bo Second", sex="male")
    record_ecog(chair, first, score=1, observed_on=TODAY)
    meeting = create_meeting(
        navigator,
        meeting_date=TODAY,
        chair_id=chair.actor.user_id,
        attendees=[
            {"name": "Dr Onc", "discipline": "oncology"},
            {"name": "Dr Path", "discipline": "pathology"},
        ],
    )
    add_to_agenda(navigator, meeting, first, question="Workup complete?")
    add_to_agenda(navigator, meeting, second, question="Fit for treatment?")

    app = open_page("pages/meeting.py", role="chair", query={"meeting_id": str(meeting)})
    _no_errors(app)
    assert any("1/2" in m.value for m in app.markdown)
    assert any("Workup complete?" in m.value for m in app.markdown)
    assert app.button(key="meeting_previous").disabled

    app.button(key="meeting_start").click().run()
    _no_errors(app)
    items = _items(database_url, meeting)
    assert items[0].discussion_started_at is not None and items[1].discussion_started_at is None
    with unit_of_work(database_url) as session:
        started = session.scalar(select(MdtMeeting.started_at).where(MdtMeeting.id == meeting))
    assert started is not None

    key = f"meeting_{meeting}_case_{first}"
    _record(app, key, "further_workup", "Complete the workup first", detail="PET-CT")
    _no_errors(app)
    assert any("Decision recorded" in s.value for s in app.success)

    app.button(key="meeting_next").click().run()
    _no_errors(app)
    assert any("2/2" in m.value for m in app.markdown)
    assert any("Fit for treatment?" in m.value for m in app.markdown)
    items = _items(database_url, meeting)
    assert items[0].discussion_ended_at is not None  # moving on closes the first
    assert items[1].discussion_started_at is not None and items[1].discussion_ended_at is None

    _record(app, f"meeting_{meeting}_case_{second}", "best_supportive_care", "Frail")
    _no_errors(app)

    with unit_of_work(database_url) as session:
        decisions = {
            d.case_id: d
            for d in session.scalars(select(Decision).where(Decision.meeting_id == meeting))
        }
        statuses = {
            case_id: status
            for case_id, status in session.execute(
                select(Case.id, Case.status).where(Case.id.in_([first, second]))
            )
        }
        audit = list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "decision", AuditEvent.action == "create"
                )
            )
        )
    assert decisions[first].code == "further_workup"
    assert decisions[first].workup_requested == "PET-CT"
    assert decisions[first].ecog_at_decision == 1  # prefilled with the latest ECOG
    assert decisions[second].code == "best_supportive_care"
    assert decisions[second].chair_id == chair.actor.user_id
    assert decisions[second].attendees == [
        {"name": "Dr Onc", "discipline": "oncology"},
        {"name": "Dr Path", "discipline": "pathology"},
    ]
    assert statuses == {first: "decision_recorded", second: "decision_recorded"}
    assert sorted((e.case_id, e.actor_username) for e in audit) == [
        (first, "test-chair"),
        (second, "test-chair"),
    ]
    # Both cases show as decided in the agenda strip; the meeting can be ended.
    strip = app.segmented_control(key=f"meeting_jump_{meeting}")
    assert sum("✓" in option for option in strip.options) == 2
    app.button(key="meeting_end").click().run()
    _no_errors(app)
    with unit_of_work(database_url) as session:
        ended = session.scalar(select(MdtMeeting.ended_at).where(MdtMeeting.id == meeting))
    assert ended is not None
    assert all(item.discussion_ended_at is not None for item in _items(database_url, meeting))
    # Every stamp is an audited update by the chair.
    with unit_of_work(database_url) as session:
        stamps = list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "update",
                    AuditEvent.field.in_(
                        ("started_at", "ended_at", "discussion_started_at", "discussion_ended_at")
                    ),
                )
            )
        )
    assert sorted((e.entity, e.field) for e in stamps) == sorted(
        [
            ("mdt_meeting", "started_at"),
            ("mdt_meeting", "ended_at"),
            ("agenda_item", "discussion_started_at"),
            ("agenda_item", "discussion_started_at"),
            ("agenda_item", "discussion_ended_at"),
            ("agenda_item", "discussion_ended_at"),
        ]
    )
    assert {e.actor_username for e in stamps} == {"test-chair"}


def test_jumping_to_a_case_and_the_deep_link_keep_the_place(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    navigator = contexts["navigator"]
    meeting = create_meeting(navigator, meeting_date=TODAY)
    items = [add_to_agenda(navigator, meeting, make_case()) for _ in range(3)]
    app = open_page(
        "pages/meeting.py",
        role="oncologist",
        query={"meeting_id": str(meeting), "item": str(items[2])},
    )
    _no_errors(app)
    assert any("3/3" in m.value for m in app.markdown)
    app.segmented_control(key=f"meeting_jump_{meeting}").set_value(items[0]).run()
    assert any("1/3" in m.value for m in app.markdown)
    assert app.query_params["item"] == str(items[0])
    # Not started by the chair: moving around records no discussion times.
    assert "meeting_start" not in {b.key for b in app.button}  # only the chair runs it


@pytest.fixture
def seeded(database_url: str) -> str:
    seed_demo_cohort(database_url, cases=30)
    return database_url


def test_de_identified_mode_shows_no_name_mrn_birth_date_or_phone(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    app = open_page("pages/meeting.py", role="chair")  # the next meeting, by default
    _no_errors(app)
    assert app.toggle(key="meeting_deidentified").value is True
    with unit_of_work(seeded) as session:
        patients = session.execute(
            select(
                Patient.name, Patient.mrn, Patient.date_of_birth, Patient.phone, Patient.pseudonym
            )
            .join(Case, Case.patient_id == Patient.id)
            .join(AgendaItem, AgendaItem.case_id == Case.id)
            .join(MdtMeeting, AgendaItem.meeting_id == MdtMeeting.id)
            .where(MdtMeeting.meeting_date >= TODAY)
            .order_by(MdtMeeting.meeting_date, AgendaItem.position)
        ).all()
    first = patients[0]
    page = _rendered(app.main) + _rendered(app.sidebar) + repr(app.main)
    assert first.pseudonym in page  # the walk does see the case on screen
    for name, mrn, born, phone, _ in patients:
        assert name not in page
        assert mrn not in page
        assert born.isoformat() not in page and f"{born:%d %b %Y}" not in page
        assert phone is None or phone not in page

    # Switched off, the same walk finds them: the check above can fail.
    app.toggle(key="meeting_deidentified").set_value(False).run()
    identified = _rendered(app.main)
    assert first.name in identified and first.mrn in identified
    assert first.date_of_birth.isoformat() in identified and first.phone in identified


def test_meeting_mode_renders_every_case_of_the_demo_agenda(
    seeded: str, open_page: Callable[..., Any]
) -> None:
    app = open_page("pages/meeting.py", role="navigator")
    _no_errors(app)
    cases = len(app.segmented_control[0].options)
    assert cases >= 2
    seen = 1
    while not app.button(key="meeting_next").disabled:
        app.button(key="meeting_next").click().run()
        _no_errors(app)
        seen += 1
        assert any(f"{seen}/{cases}" in m.value for m in app.markdown)
    assert seen == cases
    # A navigator sees the case but records no decision and does not run the meeting.
    assert "Record decision" not in {b.label for b in app.button}
    assert "meeting_start" not in {b.key for b in app.button}
    assert "Oncologists and the MDT chair record decisions." in [c.value for c in app.caption]


def test_the_ecog_chart_is_built_once_and_again_after_a_new_observation(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cupboard.ui import case_panels

    built: list[tuple[Any, ...]] = []
    build = case_panels.ecog_figure

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(case_panels, "ecog_figure", counting)
    case_panels._ecog_figure.clear()  # figures other tests left in the shared cache
    navigator, oncologist = contexts["navigator"], contexts["oncologist"]
    case_id = make_case()
    record_ecog(oncologist, case_id, score=1, observed_on=TODAY - dt.timedelta(days=7))
    meeting = create_meeting(navigator, meeting_date=TODAY)
    add_to_agenda(navigator, meeting, case_id)

    app = open_page("pages/meeting.py", role="chair", query={"meeting_id": str(meeting)})
    _no_errors(app)
    app.run()
    app.run()
    assert len(built) == 1  # reruns reuse the figure

    def plotted(app: Any) -> list[int]:
        spec = json.loads(app.get("plotly_chart")[0].proto.spec)
        return next(t["y"] for t in spec["data"] if t["name"] == "ECOG")

    assert plotted(app) == [1]
    record_ecog(oncologist, case_id, score=3, observed_on=TODAY)
    app.run()
    _no_errors(app)
    assert len(built) == 2
    assert plotted(app) == [1, 3]
