"""Who acts on which database: passed to every service function."""

from __future__ import annotations

from dataclasses import dataclass

from cupboard.errors import PermissionDeniedError
from cupboard.permissions import PERMISSIONS, Actor, may


@dataclass(frozen=True)
class ServiceContext:
    database_url: str
    actor: Actor

    def require(self, action: str) -> None:
        """Refuse, saying why, unless the actor's role may perform ``action``."""
        if not may(self.actor.role, action):
            raise PermissionDeniedError(action, self.actor.role, PERMISSIONS.get(action, ()))
