"""Errors a user can act on. Every message is one plain sentence naming the field."""

from __future__ import annotations

from dataclasses import dataclass

from cupboard.stored_values import display_value


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


class SessionExpiredError(CupboardError):
    """The session may no longer act: idle too long, or the account was deactivated.
    Nothing was saved; the next run of the page signs the user out."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}, so nothing was saved or exported. Sign in again to continue.")


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
            f"{display_value(m.before)} to {display_value(m.after)} at {m.at}"
            for m in missed
        )
        message = (
            f"Conflict: this {entity.replace('_', ' ')} was changed by someone else "
            "since you opened it, so nothing was saved. Reload to see the latest version"
        )
        super().__init__(f"{message}. {detail}." if detail else f"{message}.")
