"""What the app does once per process and database before serving a page."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from cupboard.db import (
    database_url,
    get_engine,
    is_default_database,
    unit_of_work,
    upgrade_database,
)
from cupboard.services import installation

logger = logging.getLogger(__name__)

DEMO_COHORT_SIZE = 60
ENV_DEMO = "CUPBOARD_DEMO"
# How long a process trusts what it last read of the database's verdict: a demo
# database turned production by another process (the command line adding a real
# account) stops letting demo accounts in within this many seconds.
VERDICT_SECONDS = 5.0


def demo_requested() -> bool:
    """``CUPBOARD_DEMO``, or by default demo for the embedded SQLite database only."""
    flag = os.environ.get(ENV_DEMO, "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return is_default_database()


def demo_mode(url: str | None = None) -> bool:
    """Demo accounts may sign in and the sign-in page lists them: demo mode was asked
    for, and the database is a demo (or new, and about to become one). A production
    database never runs in demo mode, whatever ``CUPBOARD_DEMO`` says."""
    if not demo_requested():
        return False
    return _verdict(url or database_url()) != installation.PRODUCTION


_verdicts: dict[str, tuple[str | None, float]] = {}
_verdicts_lock = threading.Lock()


def _verdict(url: str) -> str | None:
    now = time.monotonic()
    with _verdicts_lock:
        known = _verdicts.get(url)
    if known is not None and now - known[1] < VERDICT_SECONDS:
        return known[0]
    try:
        with unit_of_work(url, writes=False) as session:
            verdict = installation.kind(session)
    except SQLAlchemyError:
        if inspect(get_engine(url)).has_table("installation"):
            raise  # never guess "demo" for a database we could not read
        verdict = None  # not migrated yet: prepare_database decides before any page
    with _verdicts_lock:
        _verdicts[url] = (verdict, now)
    return verdict


def forget_verdict(url: str) -> None:
    """After this process changed the verdict: read it afresh next time."""
    with _verdicts_lock:
        _verdicts.pop(url, None)


@functools.cache
def prepare_database(url: str, demo: bool) -> None:
    """Migrate to head; in demo mode, seed a small cohort into a new database so a
    newcomer sees a living board. A database holding anything real is recorded as
    production and never seeded."""
    upgrade_database(url)
    if demo and installation.settle(url) == installation.PRODUCTION:
        logger.warning("%s is on, but this database is production: demo mode stays off", ENV_DEMO)
    elif demo:
        from db.demo_cohort import database_is_empty, seed_demo_cohort

        installation.claim_for_demo(url)
        if database_is_empty(url):
            seed_demo_cohort(url, cases=DEMO_COHORT_SIZE)
    forget_verdict(url)
