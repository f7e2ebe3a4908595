"""Stored values as people read them.

The audit trail keeps every value as JSON (``cupboard/services/audit.py``); the audit
trail page and a conflict's message show them with :func:`display_value`, never as
markup.
"""

from __future__ import annotations

import json

EMPTY = "(empty)"


def display_value(raw: str | None) -> str:
    """A stored JSON value as text a person reads: strings bare, records as
    ``key: value`` pairs, nothing as "(empty)". Never markup."""
    if raw is None:
        return EMPTY
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return _plain(value)


def _plain(value: object) -> str:
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{key}: {_plain(item)}" for key, item in value.items() if item not in (None, "", [])
        )
    return str(value)
