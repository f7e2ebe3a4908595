"""The navigator worklist page in AppTest: renders, lists the right rows, bulk-changes them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cupboard.services.context import ServiceContext
from cupboard.services.worklist import worklist
from cupboard.worklist import WORKLIST_KIND_LABELS
from tests.support import investigation_updates
from tests.worklist.clinic import TODAY, build_clinic, investigation

PAGE = "pages/worklist.py"


def test_renders_on_a_seeded_cohort(database_url: str, open_page: Callable[..., object]) -> None:
    from db.demo_cohort import seed_demo_cohort

    seed_demo_cohort(database_url, cases=30)
    app = open_page(PAGE, role="chair")
    assert not app.exception
    assert [t.value for t in app.title] == ["Navigator worklist"]
    assert app.radio(key="worklist_scope").value == "All cases"
    [editor] = app.data_editor
    table = editor.value
    assert len(table) > 10
    assert list(table["Days overdue"]) == sorted(table["Days overdue"], reverse=True)
    assert table["Open"].str.fullmatch(r"case\?case_id=\d+").all()


def test_lists_exactly_the_overdue_items_of_a_constructed_clinic(
    open_page: Callable[..., object],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    _, expected = build_clinic(contexts, make_case)
    app = open_page(PAGE, role="navigator")
    assert not app.exception
    assert app.radio(key="worklist_scope").value == "My cases"
    table = app.data_editor[0].value
    assert list(zip(table["Needs"], table["What"], strict=True)) == [
        ("Result not reviewed", "History & full physical exam"),
        ("Requested, not booked", "CT chest/abdomen/pelvis with contrast"),
        ("Appointment passed, not done", "Biopsy of the most accessible lesion"),
    ]
    assert set(table["Patient"]) == {"CUP-00001"}

    app.radio(key="worklist_scope").set_value("All cases").run()
    table = app.data_editor[0].value
    listed = {(row.Needs, int(row.Open.split("=")[1])) for row in table.itertuples()}
    labels = WORKLIST_KIND_LABELS
    assert listed == {(labels[kind], case_id) for kind, case_id, _ in expected}
    assert len(table) == len(expected)


def test_a_viewer_reads_without_edit_controls(
    open_page: Callable[..., object],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    build_clinic(contexts, make_case)
    app = open_page(PAGE, role="viewer")
    assert not app.exception
    assert len(app.data_editor) == 0 and len(app.dataframe) == 1
    assert not [b for b in app.button if b.key == "worklist_apply"]


def test_bulk_status_change_updates_and_audits_each_row(
    open_page: Callable[..., object],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    ids, _ = build_clinic(contexts, make_case)
    url = contexts["navigator"].database_url
    app = open_page(PAGE, role="navigator")
    editor = app.data_editor[0]
    # Tick the CT and the biopsy (rows 1 and 2), choose "Done", apply.
    app.session_state[editor.key] = {
        "edited_rows": {1: {"Select": True}, 2: {"Select": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.selectbox(key="worklist_new_status").set_value("done")
    app.button(key="worklist_apply").click().run()

    assert not app.exception
    assert [s.value for s in app.success] == ["Updated 2 row(s)."]
    assert not app.error
    for code, inv_id in (("ct_cap", ids["ct"]), ("biopsy", ids["biopsy"])):
        row = investigation(url, ids["mine"], code)
        assert row.status == "done" and row.done_on == TODAY
        [event] = [
            e for e in investigation_updates(url, inv_id, "status") if json.loads(e.after) == "done"
        ]
        assert event.actor_username == "test-navigator" and event.action == "update"
    table = app.data_editor[0].value
    assert list(table["What"]) == ["History & full physical exam"]
    assert not table["Select"].any()  # the selection was cleared


def test_a_conflicting_row_is_named_and_the_others_apply(
    open_page: Callable[..., object],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    from cupboard.services.workup import update_investigation

    ids, _ = build_clinic(contexts, make_case)
    url = contexts["navigator"].database_url
    app = open_page(PAGE, role="navigator")
    editor = app.data_editor[0]
    # While the table is open, the oncologist books the CT.
    ct = investigation(url, ids["mine"], "ct_cap")
    update_investigation(
        contexts["oncologist"], ct.id, ct.version, {"status": "booked", "booked_for": TODAY}
    )
    app.session_state[editor.key] = {
        "edited_rows": {1: {"Select": True}, 2: {"Select": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.selectbox(key="worklist_new_status").set_value("declined")
    app.button(key="worklist_apply").click().run()

    assert not app.exception
    assert [s.value for s in app.success] == ["Updated 1 row(s)."]
    [error] = app.error
    shown = error.value.replace("\\", "")  # user-facing text is markdown-escaped
    assert shown.startswith("CUP-00001 · CT chest/abdomen/pelvis with contrast: Conflict")
    assert "test-oncologist changed status" in shown
    assert investigation(url, ids["mine"], "ct_cap").status == "booked"
    assert investigation(url, ids["mine"], "biopsy").status == "declined"
    # The table is read afresh: the CT is now booked for today, the biopsy declined.
    assert list(app.data_editor[0].value["What"]) == ["History & full physical exam"]
    assert [i.what for i in worklist(contexts["navigator"], mine=True)] == [
        "History & full physical exam"
    ]


def test_the_list_is_paged_most_urgent_first(
    open_page: Callable[..., object],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cupboard.services import worklist as service

    _, expected = build_clinic(contexts, make_case)
    monkeypatch.setattr(service, "PAGE_SIZE", 3)
    whole = worklist(contexts["chair"])
    assert len(whole) == len(expected) > 6
    app = open_page(PAGE, role="chair")
    assert not app.exception

    def shown() -> list[tuple[str, str, int]]:
        table = app.data_editor[0].value
        return [(r.Needs, r.What, int(r.Open.split("=")[1])) for r in table.itertuples()]

    def rows(items: list) -> list[tuple[str, str, int]]:
        return [(i.kind_label, i.what, i.case_id) for i in items]

    assert shown() == rows(whole[:3])
    assert f"{len(whole)} item(s) need action" in app.caption[0].value
    assert "showing the first 3" in app.caption[0].value
    app.button(key="worklist_more").click().run()
    assert shown() == rows(whole[:6])
    # A new filter starts again from the top.
    app.multiselect(key="worklist_kinds").set_value(["pathway_clock", "not_on_agenda"]).run()
    chosen = [i for i in whole if i.kind in ("pathway_clock", "not_on_agenda")]
    assert shown() == rows(chosen[:3])


def test_a_rerun_reads_again_only_after_a_write(
    open_page: Callable[..., object],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cached until the database changes; a change made in another session shows at
    the next rerun of this one."""
    from cupboard.services import worklist as service
    from cupboard.services.workup import update_investigation

    ids, _ = build_clinic(contexts, make_case)
    reads: list[bool] = []
    read = service.worklist_page
    monkeypatch.setattr(
        service, "worklist_page", lambda *a, **k: reads.append(True) or read(*a, **k)
    )
    app = open_page(PAGE, role="navigator")
    what = list(app.data_editor[0].value["What"])
    assert "CT chest/abdomen/pelvis with contrast" in what
    app.run()
    app.run()
    assert len(reads) == 1 and list(app.data_editor[0].value["What"]) == what
    # The oncologist books the CT in their own session.
    url = contexts["navigator"].database_url
    ct = investigation(url, ids["mine"], "ct_cap")
    update_investigation(
        contexts["oncologist"], ct.id, ct.version, {"status": "booked", "booked_for": TODAY}
    )
    app.run()
    assert len(reads) == 2
    assert list(app.data_editor[0].value["What"]) == [
        w for w in what if w != "CT chest/abdomen/pelvis with contrast"
    ]


def test_a_case_opens_in_the_same_session_and_the_page_does_not_bounce_back(
    open_page: Callable[..., object],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    build_clinic(contexts, make_case)
    app = open_page(PAGE, role="navigator")
    # No link column opening a new (signed-out) browser tab: the address is text.
    columns = json.loads(app.data_editor[0].proto.columns)
    assert columns["Open"]["type_config"]["type"] == "text"
    picker = app.selectbox(key="worklist_open_case")
    assert picker.options == ["CUP-00001"]
    picker.select("CUP-00001").run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Case CUP-00001"]
    assert app.query_params["case_id"] == "1"
    app.switch_page(PAGE).run()
    assert [t.value for t in app.title] == ["Navigator worklist"]
    assert app.selectbox(key="worklist_open_case").value is None
