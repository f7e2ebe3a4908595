"""What a user sees when something goes wrong that no rule foresaw: a plain sentence.

Refusals a user can act on are ``CupboardError``s, shown where they happen
(``show_error``). Anything else reaching the top of a page run is caught here: the
user reads one sentence (the database is unreachable, or the page could not be shown,
with a reference), and the trace — which names hosts, ports, file paths and SQL — goes
to the server's log only. ``.streamlit/config.toml`` hides Streamlit's own error
details as a second line of defence (``client.showErrorDetails = "none"``).
"""

from __future__ import annotations

import logging
import os
import secrets

import streamlit as st
from sqlalchemy.exc import DBAPIError, OperationalError

_log = logging.getLogger("cupboard.ui")

DATABASE_UNREACHABLE = (
    "The database cannot be reached, so cupboard cannot show or save anything just now. "
    "Tell your administrator; try again in a few minutes."
)


# Developers and the test suite set CUPBOARD_DEBUG=1 to see the error itself: a test
# must fail on a crash, not on a politely worded sentence.
ENV_DEBUG = "CUPBOARD_DEBUG"


def debugging() -> bool:
    return os.environ.get(ENV_DEBUG, "").strip() not in ("", "0")


def _database_unreachable(error: BaseException) -> bool:
    return isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and bool(error.connection_invalidated)
    )


def show_unexpected_error(error: Exception) -> None:
    """Log ``error`` with a short reference and tell the user in one plain sentence."""
    reference = secrets.token_hex(4)
    _log.error("page run failed (reference %s)", reference, exc_info=error)
    if _database_unreachable(error):
        st.error(DATABASE_UNREACHABLE, icon=":material/cloud_off:")
    else:
        st.error(
            "Something went wrong and this page could not be shown. Nothing more was done. "
            f"If it happens again, tell your administrator the reference {reference}.",
            icon=":material/error:",
        )
