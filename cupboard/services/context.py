"""Who acts on which database, and the check every service call starts with.

Streamlit runs a widget's callback before the page script, so before the page's guard,
with the context the previous run built: the role and the account as they were then.
A click after an administrator deactivated or demoted the user, or after the session
sat idle past the limit, must not write. So every service call opens its transaction
through the context (``writing`` or ``reading``), which re-reads the account in that
same transaction and checks the idle time before anything else happens.

    with ctx.writing("update_investigation") as session:
        ...  # one transaction: the account check, the change and its audit rows

A refused write leaves a "refused" audit row (in a transaction of its own, since the
write's rolls back), and so does the loser of a conflict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, PermissionDeniedError, SessionExpiredError
from cupboard.models import AuditEvent, User, utcnow
from cupboard.permissions import PERMISSIONS, Actor, may

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceContext:
    database_url: str
    actor: Actor
    # When the user last did something: the time (``time.time()``) of the page run that
    # built this context. A callback runs with the context of the run before it, so
    # "now minus this" is how long the user had left the screen. None where there is
    # no browser session (command line, system jobs, tests).
    last_activity: float | None = None
    # Minutes without a click after which the session may no longer act (0: no limit).
    idle_minutes: int = 0

    def renewed(self, actor: Actor, last_activity: float) -> ServiceContext:
        """The same session at a later run (a fragment's rerun), as the account is now."""
        return replace(self, actor=actor, last_activity=last_activity)

    @contextmanager
    def writing(self, action: str) -> Iterator[Session]:
        """A write (or an export) allowed to ``action``: one transaction holding the
        account check and the change. A refusal or a lost conflict is audited."""
        try:
            with unit_of_work(self.database_url) as session:
                self._authorise(session, action)
                yield session
        except (PermissionDeniedError, SessionExpiredError, ConflictError) as refusal:
            self.audit_refusal(action, refusal)
            raise

    @contextmanager
    def reading(self, action: str) -> Iterator[Session]:
        """A read allowed to ``action``: the same check, in a transaction that does not
        take SQLite's write lock."""
        with unit_of_work(self.database_url, writes=False) as session:
            self._authorise(session, action)
            yield session

    def check(self, action: str) -> None:
        """The read check alone (a cached read checks it before the cache is looked at)."""
        with self.reading(action):
            pass

    def require(self, action: str) -> None:
        """The write check alone, for a service that must refuse before its writes open
        their transactions (a bulk change writes row by row; an import reads its file
        first). A refusal is audited; each write still goes through :meth:`writing`."""
        try:
            self.check(action)
        except (PermissionDeniedError, SessionExpiredError) as refusal:
            self.audit_refusal(action, refusal)
            raise

    def audit_refusal(
        self, action: str, refusal: PermissionDeniedError | SessionExpiredError | ConflictError
    ) -> None:
        """Keep a row for a refused write: who, what, why. Its own short transaction,
        since the refused one has rolled back."""
        if isinstance(refusal, ConflictError):
            entity, entity_id = refusal.entity, refusal.entity_id
        else:
            entity, entity_id = action, None
        try:
            with unit_of_work(self.database_url) as session:
                session.add(
                    AuditEvent(
                        actor_id=self.actor.user_id,
                        actor_username=self.actor.username,
                        action="refused",
                        entity=entity[:40],
                        entity_id=entity_id,
                        reason=f"{action}: {refusal}",
                        occurred_at=utcnow(),
                    )
                )
        except SQLAlchemyError:
            # The user is told why nothing was saved whether or not this row could be
            # written; a database that refuses the row is the bigger news, in the log.
            _log.exception("could not audit a refused %s", action)

    def _authorise(self, session: Session, action: str) -> None:
        """Refuse, saying why, unless the account as it is now may perform ``action``."""
        actor = self.actor
        if actor.user_id is not None:
            if self.idle_minutes and self.last_activity is not None:
                idle = time.time() - self.last_activity
                if idle > self.idle_minutes * 60:
                    raise SessionExpiredError(
                        f"You were signed out after {self.idle_minutes} minutes without activity"
                    )
            # One primary-key read, in the transaction of the call it allows.
            row = session.execute(
                select(User.role, User.is_active, User.is_demo).where(User.id == actor.user_id)
            ).one_or_none()
            demo_refused = row is not None and row.is_demo and not _demo_mode(self.database_url)
            if row is None or not row.is_active or demo_refused:
                raise SessionExpiredError("Your account is no longer active")
            role = row.role
        else:
            role = actor.role  # the command line and system jobs have no account
        if not may(role, action):
            raise PermissionDeniedError(action, role, PERMISSIONS.get(action, ()))


def _demo_mode(url: str) -> bool:
    # Imported here: cupboard.startup seeds the demo cohort through the services.
    from cupboard.startup import demo_mode

    return demo_mode(url)
