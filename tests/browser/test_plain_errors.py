"""In real Chromium: the database down, a hand-edited case link — a plain sentence,
no trace, no host, port, path or SQL; the detail is in the server's log."""

from __future__ import annotations

from collections.abc import Callable

from cupboard.ui.errors import DATABASE_UNREACHABLE
from tests.browser.conftest import AppServer, sign_in, wait_for_app

UNREACHABLE = "postgresql+psycopg://cupboard@127.0.0.1:1/cupboard"
LEAKS = ("127.0.0.1", "psycopg", "Traceback", ".py", "SELECT", "sqlalchemy")


def _leaks(body: str) -> list[str]:
    return [word for word in LEAKS if word in body]


def test_the_sign_in_page_with_the_database_down_is_one_sentence(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server(env_extra={"CUPBOARD_DATABASE_URL": UNREACHABLE}, seed_cases=0)
    page = page_factory()
    page.goto(server.base_url)  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text(DATABASE_UNREACHABLE).wait_for()  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert _leaks(body) == []
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
    assert "port 1 failed" in server.log()  # the administrator's detail


def test_a_case_link_beyond_any_id_says_no_such_case(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server(seed_cases=2)
    page = page_factory()
    page.goto(server.base_url)  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-chair")
    for raw in ("99999999999", "9" * 25, "²"):
        page.goto(f"{server.base_url}/case?case_id={raw}")  # type: ignore[attr-defined]
        wait_for_app(page)
        if page.get_by_label("Username").count():  # type: ignore[attr-defined]
            sign_in(page, "demo-chair")  # a new page load is a new session
        page.get_by_text("No such case: the link does not name a case.").wait_for()  # type: ignore[attr-defined]
        body = page.inner_text("body")  # type: ignore[attr-defined]
        assert _leaks(body) == [], raw
        assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
