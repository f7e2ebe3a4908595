"""A cold server's very first request deep-links to a case: the guard holds."""

from __future__ import annotations

from collections.abc import Callable

from tests.browser.conftest import AppServer, sign_in, wait_for_app


def test_cold_deep_link_to_a_case_shows_sign_in_then_the_case(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    page = page_factory()
    # The very first request to this server process is the deep link.
    page.goto(f"{server.base_url}/case?case_id=2")  # type: ignore[attr-defined]
    wait_for_app(page)
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Sign in" in body
    assert "CUP-00002" not in body and "DEMO" not in body
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]

    sign_in(page, "demo-oncologist")
    page.get_by_text("Case CUP-00002").wait_for()  # type: ignore[attr-defined]
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
    assert "Workup" in page.inner_text("body")  # type: ignore[attr-defined]


def test_queue_shows_demo_cases_after_sign_in(
    new_server: Callable[..., AppServer], page_factory: Callable[..., object]
) -> None:
    server = new_server()
    page = page_factory()
    page.goto(server.base_url)  # type: ignore[attr-defined]
    wait_for_app(page)
    sign_in(page, "demo-navigator")
    page.get_by_text("MDT queue").first.wait_for()  # type: ignore[attr-defined]
    page.locator('[data-testid="stDataFrame"]').first.wait_for()  # type: ignore[attr-defined]
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
