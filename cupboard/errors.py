"""Errors a user can act on. Every message is one plain sentence naming the field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class CupboardError(Exception):
    """Base class: ``str(error)`` is the message shown to the user."""


class ValidationError(CupboardError, ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotFoundError(CupboardError, LookupError):
    def __init__(self, entity: str, entity_id: object) -> None:
        self.entity = entity
        self.entity_id = entity_id
        super().__init__(f"{entity} {entity_id} does not exist")


class PermissionDeniedError(CupboardError, PermissionError):
    def __init__(self, action: str, role: str, allowed: tuple[str, ...]) -> None:
        self.action = action
        self.role = role
        self.allowed = allowed
        who = ", ".join(allowed) if allowed else "nobody"
        super().__init__(
            f"Not allowed: a {role} may not {action.replace('_', ' ')} (allowed: {who})"
        )


@dataclass(frozen=True)
class MissedChange:
    """A change somebody else saved after the user opened the record."""

    field: str | None
    before: str | None
    after: str | None
    by: str
    at: str


class ConflictError(CupboardError):
    """The record changed since the user opened it; nothing was saved."""

    def __init__(self, entity: str, entity_id: int, missed: tuple[MissedChange, ...] = ()) -> None:
        self.entity = entity
        self.entity_id = entity_id
        self.missed = missed
        detail = "; ".join(
            f"{m.by} changed {(m.field or 'it').replace('_', ' ')} from "
            f"{readable_value(m.before)} to {readable_value(m.after)} at {m.at}"
            for m in missed
        )
        message = (
            f"Conflict: this {entity.replace('_', ' ')} was changed by someone else "
            "since you opened it, so nothing was saved. Reload to see the latest version"
        )
        super().__init__(f"{message}. {detail}." if detail else f"{message}.")


def readable_value(stored: str | None) -> str:
    """An audited value (JSON, as the audit trail stores it) as a person reads it:
    ``(empty)`` for nothing, text in quotes, dates and numbers plain, lists joined."""
    if stored is None:
        return "(empty)"
    try:
        value = json.loads(stored)
    except ValueError:
        return stored
    return _readable(value)


def _readable(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value if _ISO_DATE.match(value) else f'"{value}"'
    if isinstance(value, list):
        return ", ".join(_readable(item) for item in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
