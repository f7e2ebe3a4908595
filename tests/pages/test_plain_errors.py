"""No Python error reaches a user: a plain sentence on the page, the trace in the log.

``open_page`` runs with CUPBOARD_DEBUG=1 so that any crash in a page test shows as
``app.exception``; here that is the assertion: these inputs crashed the pages before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from cupboard.ui.errors import DATABASE_UNREACHABLE
from tests.test_cli_fuzz import BAD_ROWS, NASTY_FILES

UNREACHABLE = "postgresql+psycopg://cupboard@127.0.0.1:1/cupboard"


def _all_text(app: Any) -> str:
    return "\n".join(
        str(getattr(element, "value", ""))
        for kind in ("title", "markdown", "text", "caption", "error", "info", "warning")
        for element in getattr(app, kind)
    )


def test_an_unreachable_database_is_one_sentence_on_the_sign_in_page(
    open_page: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    page = open_page  # the fixture sets the environment; then the database goes away
    monkeypatch.setenv("CUPBOARD_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("CUPBOARD_DEBUG", "0")
    with caplog.at_level(logging.ERROR, logger="cupboard.ui"):
        app = page(role=None)
    assert not app.exception
    assert [e.value for e in app.error] == [DATABASE_UNREACHABLE]
    shown = _all_text(app)
    assert "127.0.0.1" not in shown and "psycopg" not in shown and ".py" not in shown
    # The administrator gets the detail in the server's log.
    assert any(r.exc_info and "127.0.0.1" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize("raw", ["99999999999", "9" * 30, "²", "-1", "0", "1e3", " 7"])
def test_a_case_link_naming_no_case_says_so(open_page: Callable[..., Any], raw: str) -> None:
    app = open_page("pages/case.py", role="chair", query={"case_id": raw})
    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    assert errors in (
        ["No such case: the link does not name a case."],
        [f"case {raw.strip()} does not exist"],
    ), errors
    assert "SELECT" not in _all_text(app)


def test_an_unforeseen_error_is_a_sentence_with_a_reference_and_a_logged_trace(
    open_page: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from cupboard.ui import navigation

    def broken(*args: object) -> None:
        raise RuntimeError("detail for the log only: /srv/cupboard/secret.py line 3")

    monkeypatch.setattr(navigation, "build_navigation", broken)
    monkeypatch.setenv("CUPBOARD_DEBUG", "0")
    with caplog.at_level(logging.ERROR, logger="cupboard.ui"):
        app = open_page(role="chair")
    assert not app.exception
    (error,) = [e.value for e in app.error]
    assert error.startswith("Something went wrong and this page could not be shown.")
    assert "/srv" not in _all_text(app)
    (record,) = [r for r in caplog.records if r.name == "cupboard.ui"]
    reference = error.rsplit("reference ", 1)[1].rstrip(".")
    assert reference in record.getMessage() and record.exc_info is not None


@pytest.mark.parametrize(
    ("uploader", "file_name", "mime"),
    [("referral_csv", "r.csv", "text/csv"), ("fhir_bundle", "b.json", "application/json")],
)
def test_every_nasty_upload_is_a_plain_error_not_a_crash(
    open_page: Callable[..., Any], uploader: str, file_name: str, mime: str
) -> None:
    app = open_page("pages/referrals.py", role="navigator")
    failures = []
    for name, content in {**NASTY_FILES, **BAD_ROWS}.items():
        app.file_uploader(key=uploader).set_value((file_name, content, mime))
        app.run()
        errors = [e.value for e in app.error]
        report = [t.value for t in app.text if "refused" in str(t.value)]
        # A file refused as a whole is one plain error; a CSV with refused rows a report.
        expected = len(errors) == 1 or (name in BAD_ROWS and uploader == "referral_csv" and report)
        if app.exception or not expected or "Traceback" in "".join(errors):
            failures.append((name, errors, [str(x.value)[:200] for x in app.exception]))
    assert failures == []
