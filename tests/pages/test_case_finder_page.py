"""The case finder on the Case and Before-clinic pages (issue 16), in AppTest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cupboard.db import unit_of_work
from cupboard.models import Case
from cupboard.services.cases import update_case
from cupboard.services.context import ServiceContext
from cupboard.ui.text import escape_markdown


def _closed_case(contexts: dict[str, ServiceContext], make_case: Callable[..., int]) -> int:
    case_id = make_case(mrn="19580314-1234", name="Åsa Lindqvist")
    make_case(mrn="19620101-4321", name="Bo Ek")
    with unit_of_work(contexts["navigator"].database_url) as session:
        version = session.get(Case, case_id).version  # type: ignore[union-attr]
    update_case(
        contexts["navigator"],
        case_id,
        version,
        {"status": "closed", "closing_reason": "transferred"},
        today=dt.date.today(),
    )
    return case_id


def test_the_case_page_finds_a_closed_case_by_a_prefix_of_its_number(
    open_page: Callable[..., Any],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    case_id = _closed_case(contexts, make_case)
    app = open_page("pages/case.py", role="navigator")
    assert not app.exception
    app.text_input(key="case_finder_term").input("19580314").run()
    chips = app.button_group(key="case_finder_pick")
    referred = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    assert chips.options == [
        escape_markdown(
            f"CUP-00001 · Åsa Lindqvist · MRN 19580314-1234 · Closed · referred {referred}"
        )
    ]
    chips.select(case_id).run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Case CUP-00001"]
    assert app.query_params["case_id"] == str(case_id)
    # The choice was handed over once: the chips are clear, so a later run of the page
    # (another case chosen, or back to this page) is not sent back to this case.
    assert app.session_state["case_finder_pick"] is None


def test_the_case_page_finds_a_name_without_its_accent(
    open_page: Callable[..., Any],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    _closed_case(contexts, make_case)
    app = open_page("pages/case.py", role="viewer")
    app.text_input(key="case_finder_term").input("asa").run()
    assert not app.exception
    assert [o.split(" · ")[1] for o in app.button_group(key="case_finder_pick").options] == [
        "Åsa Lindqvist"
    ]
    app.text_input(key="case_finder_term").input("nobody like this").run()
    assert "No case matches" in " ".join(c.value for c in app.caption)


def test_before_clinic_finds_a_closed_case(
    open_page: Callable[..., Any],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    case_id = _closed_case(contexts, make_case)
    app = open_page("pages/summary.py", role="oncologist")
    assert not app.exception
    app.text_input(key="summary_finder_term").input("lindqv").run()
    app.button_group(key="summary_finder_pick").select(case_id).run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Before clinic · CUP-00001"]
