"""The audit trail on screen: filters, before → after as plain text, paging, refusals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.knowledge.investigations import INVESTIGATIONS
from cupboard.models import Investigation
from cupboard.services.context import ServiceContext
from cupboard.services.performance import record_ecog
from cupboard.services.workup import update_investigation

AUDIT_PAGE = "pages/audit.py"


def _investigation(url: str, case_id: int, code: str) -> Investigation:
    with unit_of_work(url) as session:
        row = session.scalar(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == code
            )
        )
        assert row is not None
        return row


def _texts(app: Any) -> list[str]:
    return [t.value for t in app.main.text]


def test_audit_page_shows_a_change_as_before_and_after(
    open_page: Callable[..., Any],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    navigator = contexts["navigator"]
    case_id = make_case()
    ct = _investigation(navigator.database_url, case_id, "ct_cap")
    update_investigation(
        navigator, ct.id, ct.version, {"result_text": "3 cm liver lesion, no primary"}
    )
    app = open_page(AUDIT_PAGE, role="oncologist", query={"case_id": str(case_id)})
    assert not app.exception
    assert [t.value for t in app.title] == ["Audit trail"]
    assert app.text_input(key="audit_case").value == str(case_id)
    texts = _texts(app)
    assert "result_text: (empty) → 3 cm liver lesion, no primary" in texts
    header = texts[texts.index("result_text: (empty) → 3 cm liver lesion, no primary") - 1]
    assert "test-navigator · update · investigation #" in header
    assert f"case {case_id}" in header


def test_filters_narrow_the_trail_by_case_user_and_record(
    open_page: Callable[..., Any],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    first, second = make_case(), make_case()
    record_ecog(contexts["oncologist"], first, score=1, observed_on=dt.date.today())
    record_ecog(contexts["chair"], second, score=3, observed_on=dt.date.today())
    app = open_page(AUDIT_PAGE, role="chair")
    app.selectbox(key="audit_entity").select("ecog_observation").run()
    headers = [t for t in _texts(app) if " · create · " in t]
    assert len(headers) == 2
    app.text_input(key="audit_user").input("TEST-ONCOLOGIST").run()
    headers = [t for t in _texts(app) if " · create · " in t]
    assert len(headers) == 1 and "test-oncologist" in headers[0] and f"case {first}" in headers[0]
    app.text_input(key="audit_user").input("").run()
    app.text_input(key="audit_case").input(str(second)).run()
    headers = [t for t in _texts(app) if " · create · " in t]
    assert len(headers) == 1 and "test-chair" in headers[0]
    assert any(t.startswith("created with ") and "score: 3" in t for t in _texts(app))
    app.text_input(key="audit_case").input("").run()
    today_utc = dt.datetime.now(dt.UTC).date()  # the trail's days are UTC days
    app.date_input(key="audit_from").set_value(today_utc).run()
    app.date_input(key="audit_to").set_value(today_utc).run()
    assert len([t for t in _texts(app) if " · create · " in t]) == 2
    app.date_input(key="audit_from").set_value(None).run()
    app.date_input(key="audit_to").set_value(today_utc - dt.timedelta(days=1)).run()
    assert not app.exception
    assert [t for t in _texts(app) if " · create · " in t] == []
    assert any("No audit entries" in i.value for i in app.info)


def test_the_trail_pages_through_older_entries(
    open_page: Callable[..., Any],
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
) -> None:
    # A referral writes a creation entry for the patient, the case and each investigation
    # of the catalogue; the page shows 50 at a time.
    per_referral = 2 + len(INVESTIGATIONS)
    make_case()
    make_case()
    make_case()
    app = open_page(AUDIT_PAGE, role="navigator")
    first_page = [t for t in _texts(app) if " · create · " in t]
    assert len(first_page) == 50
    assert app.button(key="audit_newer").disabled
    app.button(key="audit_older").click().run()
    second_page = [t for t in _texts(app) if " · create · " in t]
    assert len(second_page) == 3 * per_referral - 50
    assert not set(first_page) & set(second_page)
    assert app.button(key="audit_older").disabled
    app.button(key="audit_newer").click().run()
    assert [t for t in _texts(app) if " · create · " in t] == first_page


def test_bad_filter_is_refused_naming_the_field(open_page: Callable[..., Any]) -> None:
    app = open_page(AUDIT_PAGE, role="chair", query={"case_id": "12"})
    app.text_input(key="audit_case").input("twelve").run()
    assert not app.exception
    assert any(
        e.value.replace("\\", "").startswith("Case: no case has the pseudonym or MRN")
        for e in app.error
    )
    app.text_input(key="audit_case").input("").run()
    app.date_input(key="audit_from").set_value(dt.date.today()).run()
    app.date_input(key="audit_to").set_value(dt.date.today() - dt.timedelta(days=2)).run()
    # Messages are shown with markdown escaped; unescaped, they start with the field.
    assert any(e.value.replace("\\", "").startswith("to_date") for e in app.error)


def test_viewer_may_not_open_the_audit_trail(
    open_page: Callable[..., Any], make_case: Callable[..., int]
) -> None:
    make_case(name="Hidden Person")
    app = open_page(AUDIT_PAGE, role="viewer")
    assert not app.exception
    assert any("may not open this page" in e.value for e in app.error)
    assert "Hidden Person" not in repr(app.main)
    assert _texts(app) == []


def test_account_events_are_for_administrators_only(
    open_page: Callable[..., Any], contexts: dict[str, ServiceContext]
) -> None:
    app = open_page(AUDIT_PAGE, role="navigator")
    assert "user" not in app.selectbox(key="audit_entity").options
    assert not [t for t in _texts(app) if " · user #" in t]
    app = open_page(AUDIT_PAGE, role="admin")
    assert "user" in app.selectbox(key="audit_entity").options
    assert any(" · create · user #" in t for t in _texts(app))


def test_the_case_filter_takes_a_pseudonym_or_an_mrn(
    open_page: Callable[..., Any], make_case: Callable[..., int]
) -> None:
    make_case(mrn="19580314-1234")
    wanted = make_case(mrn="19620101-4321")
    app = open_page(AUDIT_PAGE, role="navigator")
    for typed in ("CUP-00002", "cup00002", "19620101-4321", "196201014321"):
        app.text_input(key="audit_case").input(typed).run()
        assert not app.exception and not app.error, typed
        rows = [t for t in _texts(app) if " · create · " in t]
        assert rows and all(f"case {wanted}" in t for t in rows), typed
    # A prefix is not a name for one patient: the filter wants it exactly.
    app.text_input(key="audit_case").input("CUP-0000").run()
    assert any("no case has the pseudonym or MRN" in e.value for e in app.error)
