"""Real headless Chromium (Debian's ``chromium``) driven by Playwright.

The server is started as the README does (``streamlit run dashboard.py``) on a
free port, on a fresh SQLite database seeded with the demo cohort. The cohort is seeded
once per test process (``seed-demo``, as a user would) and copied for each server, so
every test still starts from the same untouched board. Where Chromium is not installed
the tests are skipped, except under CI, where that is a failure (.ci/run installs it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CUPBOARD_CHROMIUM", "/usr/bin/chromium")
IN_CI = bool(os.environ.get("CI"))
# Flags this machine's closed network needs (no background connections).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Counts the script runs the page has started, so that a wait after a click waits for the
# run that click asked for, not for the idle state left by the run before it (a click is
# sent to the server asynchronously: for a moment after it the app still looks idle).
RUN_COUNTER = """
(() => {
  window.__cupboardRuns = 0;
  let last = null;
  const look = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.getAttribute("data-test-script-state") : null;
    if (state === "running" && last !== "running") window.__cupboardRuns += 1;
    last = state;
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ["data-test-script-state"],
  });
})();
"""
# How long an action may take to reach the server and start a run. An action that starts
# none (opening an expander, typing without leaving the field) is then waited for no longer.
RUN_START_MS = 5_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@dataclass
class AppServer:
    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _seed(database: Path, env_extra: dict[str, str], seed_cases: int) -> None:
    """Seed the demo cohort as a user would: ``python -m cupboard seed-demo``."""
    env = {**os.environ, "CUPBOARD_DATABASE_URL": f"sqlite:///{database}", "CUPBOARD_DEMO": "1"}
    env.update(env_extra)
    subprocess.run(
        [sys.executable, "-m", "cupboard", "seed-demo", "--cases", str(seed_cases)],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    # Fold the write-ahead log into the file, so that a copy of the file is the database.
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


_seeded: dict[tuple[int, frozenset[tuple[str, str]]], Path] = {}
_seeded_directory = tempfile.TemporaryDirectory(prefix="cupboard-browser-seeds-")


def _seeded_database(database: Path, env_extra: dict[str, str], seed_cases: int) -> None:
    """A copy of the seeded demo database made once per test process for these settings."""
    key = (seed_cases, frozenset(env_extra.items()))
    template = _seeded.get(key)
    if template is None:
        template = Path(_seeded_directory.name) / f"seed-{len(_seeded)}.sqlite3"
        _seed(template, env_extra, seed_cases)
        _seeded[key] = template
    shutil.copy(template, database)


def start_server(
    tmp: Path, env_extra: dict[str, str] | None = None, seed_cases: int = 30
) -> AppServer:
    database = tmp / "browser.sqlite3"
    database_url = f"sqlite:///{database}"
    env = {**os.environ, "CUPBOARD_DATABASE_URL": database_url, "CUPBOARD_DEMO": "1"}
    env.update(env_extra or {})
    if seed_cases:
        _seeded_database(database, env_extra or {}, seed_cases)
    log_path = tmp / f"streamlit-{len(list(tmp.glob('streamlit-*.log')))}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard.py",
            "--server.headless",
            "true",
            # Port 0: the system hands this server a port no other process holds (tests
            # run in parallel); the server says which in its log.
            "--server.port",
            "0",
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log = log_path.read_text(errors="replace")
        served = re.search(r"URL: (http://127\.0\.0\.1:\d+)", log)
        if served:
            return AppServer(served.group(1), database_url, process, log_path)
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log}")
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"streamlit did not start: {log_path.read_text()}")


def stop_server(server: AppServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_server(tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """Start a fresh server (each call: its own database and port)."""
    servers: list[AppServer] = []

    def _start(**kwargs: object) -> AppServer:
        server = start_server(tmp_path / f"s{len(servers)}", **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    (tmp_path / "s0").mkdir(exist_ok=True)
    for n in range(1, 5):
        (tmp_path / f"s{n}").mkdir(exist_ok=True)
    yield _start
    for server in servers:
        stop_server(server)


@pytest.fixture
def page_factory(chromium_browser: object) -> Iterator[Callable[..., object]]:
    contexts: list[object] = []

    def _page(width: int = 1440, height: int = 900) -> object:
        context = chromium_browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        context.add_init_script(RUN_COUNTER)  # type: ignore[attr-defined]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield _page
    for context in contexts:
        context.close()  # type: ignore[attr-defined]


def wait_for_app(page: object) -> None:
    """Wait until Streamlit has finished the run the last action started.

    Each call waits for a run to start after the previous call (or after the page
    loaded), then for the app to be idle: never for the idle state a click has not yet
    replaced.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen = page.evaluate("window.__cupboardSeen ?? 0")  # type: ignore[attr-defined]
    # If the last action started no run, the app is as it was: nothing more to wait for.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(  # type: ignore[attr-defined]
            "(seen) => (window.__cupboardRuns ?? 0) > seen", arg=seen, timeout=RUN_START_MS
        )
    page.wait_for_selector(APP_IDLE, timeout=30_000)  # type: ignore[attr-defined]
    page.evaluate("window.__cupboardSeen = window.__cupboardRuns ?? 0")  # type: ignore[attr-defined]


def choose(page: object, select: object, option: str | re.Pattern[str]) -> None:
    """Pick ``option`` in a select box and wait for the run the choice starts.

    The box is brought to the middle of the window first: a select box at the very
    bottom edge of the window opens no menu when clicked (seen in Chromium on the case
    page's Decision tab once the page above it grew)."""
    select.evaluate("box => box.scrollIntoView({block: 'center'})")  # type: ignore[attr-defined]
    select.click()  # type: ignore[attr-defined]
    page.get_by_role("option", name=option).click()  # type: ignore[attr-defined]
    wait_for_app(page)


def sign_in(page: object, username: str, password: str = "demo") -> None:  # noqa: S107
    page.get_by_label("Username").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Password", exact=True).fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in", exact=True).click()  # type: ignore[attr-defined]
    # Signed in once the form is gone (the sign-in reruns the app a second time).
    page.get_by_label("Username").wait_for(state="detached")  # type: ignore[attr-defined]
    wait_for_app(page)


# The workup editor's geometry (cupboard/ui/case_panels.WORKUP_COLUMNS): pinned
# "Investigation" 250 px, "Before MDT" 230 px, then "Status" 120 px; rows of 35 px
# under a header of 35 px (Streamlit's data grid defaults).
STATUS_CELL_X = 250 + 230 + 60
ROW_HEIGHT = 35


def edit_workup_status(page: object, row_index: int, status_label: str) -> None:
    """Set one investigation's status in the case page's workup editor (a canvas grid:
    double-click the cell, type the option, Enter) and wait for the unsaved-change note."""
    editor = page.locator('[data-testid="stDataFrame"]').first  # type: ignore[attr-defined]
    editor.wait_for()
    # The editor sits below the fold of a 1000-px-high window when the case page above
    # it is long: bring it into view before clicking at coordinates inside it.
    editor.scroll_into_view_if_needed()
    box = editor.bounding_box()
    assert box is not None
    y = box["y"] + ROW_HEIGHT * (row_index + 1) + ROW_HEIGHT / 2
    page.mouse.dblclick(box["x"] + STATUS_CELL_X, y)  # type: ignore[attr-defined]
    page.get_by_role("option", name=status_label, exact=True).wait_for()  # type: ignore[attr-defined]
    page.keyboard.type(status_label)  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    wait_for_app(page)
    page.get_by_text("1 investigation(s) changed, not saved yet.").wait_for()  # type: ignore[attr-defined]
