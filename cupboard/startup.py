"""What the app does once per process and database before serving a page."""

from __future__ import annotations

import functools
import os

from cupboard.db import is_default_database, upgrade_database

DEMO_COHORT_SIZE = 60
ENV_DEMO = "CUPBOARD_DEMO"


def demo_mode() -> bool:
    """Demo accounts and the synthetic cohort: on by default only for the embedded
    SQLite database, never on a configured (production) database unless asked."""
    flag = os.environ.get(ENV_DEMO, "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return is_default_database()


@functools.cache
def prepare_database(url: str, demo: bool) -> None:
    """Migrate to head; in demo mode, seed a small cohort into an empty database so
    a newcomer sees a living board."""
    upgrade_database(url)
    if demo:
        from db.demo_cohort import database_is_empty, seed_demo_cohort

        if database_is_empty(url):
            seed_demo_cohort(url, cases=DEMO_COHORT_SIZE)
