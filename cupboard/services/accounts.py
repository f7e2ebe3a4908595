"""User accounts: local sign-in (argon2 hashes), OIDC mapping, roles, throttling.

Failed sign-ins are counted in ``sign_in_throttles`` per username and source address
(keyed by digests, never the typed text), with or without an account: a stranger's
guesses slow down the stranger, not the account's owner, and the answers do not tell
which usernames exist. Every refusal is audited (docs/deployment.md, section 3).

Sign-in bookkeeping (failed-attempt counter, last sign-in) is written with plain
UPDATE statements, not through the ORM, so it never bumps a user's ``version``: an
administrator editing an account is not told of a conflict because someone mistyped
a password. Changes an administrator makes go through ``apply_update`` and are
audited like clinical data.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from cupboard import validation as v
from cupboard.db import unit_of_work
from cupboard.errors import CupboardError, NotFoundError, ValidationError
from cupboard.knowledge.decisions import DISCIPLINES
from cupboard.models import SignInThrottle, User, utcnow
from cupboard.permissions import ROLES, Actor
from cupboard.services import installation
from cupboard.services.audit import apply_update, record_creation, record_event
from cupboard.services.context import ServiceContext

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """The hash an unknown user's password is verified against, so that a refusal takes
    as long whether or not the user exists. Made at the first sign-in, not at import:
    every command-line run and test process imports this module."""
    return _hasher.hash("cupboard-dummy-password")


MIN_PASSWORD_LENGTH = 10
# zxcvbn's scale: 3 is "safely unguessable" for an online attacker and a slow hash
# (about 10^8 guesses and more).
MIN_PASSWORD_SCORE = 3
ZXCVBN_MAX_LENGTH = 72
# Long enough for any passphrase, short enough that hashing it is no denial of service.
MAX_PASSWORD_LENGTH = 1024
FREE_ATTEMPTS = 3
MAX_LOCKOUT_SECONDS = 15 * 60
WRONG_CREDENTIALS = "Wrong username or password."
# Throttle rows of usernames without an account are forgotten after a quiet day.
THROTTLE_RETENTION = dt.timedelta(days=1)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SignInRefusedError(CupboardError):
    """Wrong credentials, inactive account, or too many recent failures."""


def lockout_seconds(failed_count: int) -> int:
    """After three free attempts each further failure doubles the wait (max 15 min)."""
    if failed_count < FREE_ATTEMPTS:
        return 0
    return min(2 ** (failed_count - FREE_ATTEMPTS) * 5, MAX_LOCKOUT_SECONDS)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _retry_wait(failed_count: int, last_failed_at: dt.datetime | None, now: dt.datetime) -> int:
    """Seconds to wait after ``failed_count`` failures, the last at ``last_failed_at``."""
    wait = lockout_seconds(failed_count)
    if not wait or last_failed_at is None:
        return 0
    remaining = _aware(last_failed_at) + dt.timedelta(seconds=wait) - now
    return max(0, math.ceil(remaining.total_seconds()))


def seconds_until_retry(session: Session, username: str, now: dt.datetime) -> int:
    """The longest wait any source must sit out before trying this username again."""
    rows = session.execute(
        select(SignInThrottle.failed_count, SignInThrottle.last_failed_at).where(
            _account_keys(username)
        )
    )
    return max((_retry_wait(count, last, now) for count, last in rows), default=0)


def _too_many(seconds: int) -> str:
    return f"Too many failed sign-ins. Try again in {seconds} seconds."


def _failure_message(failures: int) -> str:
    """The refusal for a wrong password that brings the count to ``failures``."""
    wait = lockout_seconds(failures)
    return f"{WRONG_CREDENTIALS} {_too_many(wait)}" if wait else WRONG_CREDENTIALS


def actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id, username=user.username, display_name=user.display_name, role=user.role
    )


def validate_username(value: object) -> str:
    username = v.identity_text("username", value, 64).lower()
    if not all(ch.isalnum() or ch in "._-@" for ch in username):
        raise ValidationError("username", "may contain letters, digits and . _ - @ only")
    return username


def validate_password(
    value: object, *, is_demo: bool = False, about: Sequence[str | None] = ()
) -> str:
    """A password is kept exactly as typed (no stripping). It must be long enough and
    hard to guess: zxcvbn (Dropbox's estimator, maintained on PyPI) scores it against
    its lists of common passwords, names and words, keyboard patterns, repeats and
    ``about`` (the account's username, name and email), so "aaaaaaaaaa", ten spaces or
    the username itself are refused. Demo accounts keep the published "demo"."""
    if not isinstance(value, str):
        raise ValidationError("password", "must be text")
    if is_demo and value:
        return value
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValidationError("password", f"must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise ValidationError("password", f"must have at most {MAX_PASSWORD_LENGTH} characters")
    guessable = _guessability(value, [text for text in about if text])
    if guessable is not None:
        raise ValidationError("password", f"is too easy to guess. {guessable}".strip())
    return value


# zxcvbn keeps the user's words in a module-level dictionary while it scores, so two
# sessions adding accounts at once must take turns.
_zxcvbn_lock = threading.Lock()


def _guessability(password: str, about: list[str]) -> str | None:
    """None when the password is hard enough to guess; else zxcvbn's advice."""
    # zxcvbn refuses long inputs; a passphrase whose first 72 characters are hard to
    # guess is hard to guess.
    sample = password[:ZXCVBN_MAX_LENGTH]
    with _zxcvbn_lock:
        estimate = zxcvbn(sample, user_inputs=about)
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = estimate["feedback"]
    advice = [feedback.get("warning") or "", *feedback.get("suggestions", [])]
    return " ".join(text for text in advice if text)


def validate_email(value: object) -> str | None:
    email = v.optional_text("email", value, 255)
    if email is not None and not EMAIL.match(email):
        raise ValidationError("email", f"is not an email address: {email!r}")
    return email


def _validate_active(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("is_active", f"must be true or false; got {value!r}")
    return value


def _email_taken(session: Session, email: str, except_user_id: int | None = None) -> bool:
    """Emails identify people at first OIDC sign-in, so two accounts may not share one."""
    query = select(User.id).where(func.lower(User.email) == email.lower())
    if except_user_id is not None:
        query = query.where(User.id != except_user_id)
    return session.scalar(query.limit(1)) is not None


def create_user(
    url: str,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str | None = None,
    discipline: str | None = None,
    email: str | None = None,
    oidc_subject: str | None = None,
    is_demo: bool = False,
) -> int:
    """Add an account. Used by the admin page (through ``add_user``) and the CLI."""
    values = {
        "username": validate_username(username),
        "display_name": v.identity_text("display_name", display_name, 120),
        "role": v.choice("role", role, ROLES),
        "discipline": v.optional_choice("discipline", discipline, DISCIPLINES),
        "email": validate_email(email),
        "oidc_subject": v.optional_text("oidc_subject", oidc_subject, 255),
    }
    if password == "":
        password = None
    if password is None and values["oidc_subject"] is None and values["email"] is None:
        raise ValidationError("password", "give a password, or an email/subject for OIDC sign-in")
    if password is not None:
        password = validate_password(
            password,
            is_demo=is_demo,
            about=(values["username"], values["display_name"], values["email"]),
        )
    with unit_of_work(url) as session:
        taken = session.scalar(select(User.id).where(User.username == values["username"]))
        if taken is not None:
            raise ValidationError("username", f"{values['username']} is already taken")
        if values["email"] is not None and _email_taken(session, values["email"]):
            raise ValidationError("email", f"{values['email']} already belongs to an account")
        subject = values["oidc_subject"]
        if subject is not None and session.scalar(
            select(User.id).where(User.oidc_subject == subject)
        ):
            raise ValidationError("oidc_subject", "is already linked to another account")
        # An account made by a demo account (demo-admin) is a demo account too, so it
        # cannot open the database once demo mode is off; a real one makes the database
        # production for good (cupboard/services/installation.py, issue 14).
        if actor.user_id is not None and session.scalar(
            select(User.is_demo).where(User.id == actor.user_id)
        ):
            is_demo = True
        if not is_demo:
            installation.mark_production(session, f"holds the account {values['username']}")
        user = User(
            **values,
            password_hash=_hasher.hash(password) if password is not None else None,
            is_demo=is_demo,
        )
        session.add(user)
        record_creation(session, actor, user)
        return user.id


def add_user(
    ctx: ServiceContext,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str | None = None,
    discipline: str | None = None,
    email: str | None = None,
    oidc_subject: str | None = None,
) -> int:
    """An administrator adds an account (never a demo account)."""
    ctx.require("manage_users")
    return create_user(
        ctx.database_url,
        ctx.actor,
        username=username,
        display_name=display_name,
        role=role,
        password=password,
        discipline=discipline,
        email=email,
        oidc_subject=oidc_subject,
    )


def _bookkeeping(session: Session, user_id: int, **values: Any) -> None:
    """Sign-in counters: a plain UPDATE, so the account's version is untouched."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def username_digest(username: str) -> str:
    """SHA-256 of a normalised username: what was typed is never stored."""
    return hashlib.sha256(username.encode("utf-8")).hexdigest()


def throttle_key(username: str, source: str | None) -> str:
    """The ``sign_in_throttles`` key of one username tried from one source address.

    Half of it is the username's digest alone, so that an administrator's password
    reset can lift every source's wait on the account; the other half is a digest of
    the username and the address. Neither half can be read back into what was typed.
    """
    half = len(username_digest("")) // 2
    pair = f"{username}\n{source or ''}"
    return username_digest(username)[:half] + username_digest(pair)[:half]


def _account_keys(username: str) -> ColumnElement[bool]:
    """Every source's throttle row of one username."""
    half = len(username_digest("")) // 2
    return SignInThrottle.username_digest.startswith(username_digest(username)[:half])


def stranger(username: str) -> Actor:
    """Who the audit trail names for a sign-in with a username that has no account.

    Not the typed text: people type their password into the username field. A short
    digest is enough to see that many refusals were for the same name.
    """
    return Actor(
        user_id=None,
        username=f"unknown:{username_digest(username)[:12]}",
        display_name="unknown username",
        role="none",
    )


def _upsert(session: Session) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT for the session's database (SQLite or PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(SignInThrottle)
    if dialect == "sqlite":
        return sqlite.insert(SignInThrottle)
    raise NotImplementedError(f"sign-in throttling does not support {dialect}")


def _lock_throttle(session: Session, key: str, now: dt.datetime) -> tuple[int, dt.datetime]:
    """The failures counted under ``key`` and the time of the last one.

    Creates the row, or takes its write lock if it exists (a no-op update), before
    reading it: attempts made in parallel for one username from one source are counted
    one after another and cannot slip past the wait. On PostgreSQL a second inserter
    of the same key waits at the unique index until the first one commits.
    """
    insert = _upsert(session).values(username_digest=key, failed_count=0, last_failed_at=now)
    failed_count, last_failed_at = session.execute(
        insert.on_conflict_do_update(
            index_elements=[SignInThrottle.username_digest],
            set_={"failed_count": SignInThrottle.failed_count},
        ).returning(SignInThrottle.failed_count, SignInThrottle.last_failed_at)
    ).one()
    return failed_count, last_failed_at


def _count_failure(session: Session, key: str, now: dt.datetime) -> int:
    """Count one more failure under ``key``; returns the count."""
    # Forget keys nobody has tried for a day (this one too: it starts again at one).
    # Rows other sign-ins hold locked are left for the next clean-up, so that two
    # clean-ups never wait for each other (SQLite ignores FOR UPDATE; its writers run
    # one at a time anyway).
    stale = (
        select(SignInThrottle.id)
        .where(SignInThrottle.last_failed_at < now - THROTTLE_RETENTION)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(SignInThrottle)
        .where(SignInThrottle.id.in_(stale.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    insert = _upsert(session).values(username_digest=key, failed_count=1, last_failed_at=now)
    return int(
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[SignInThrottle.username_digest],
                set_={"failed_count": SignInThrottle.failed_count + 1, "last_failed_at": now},
            ).returning(SignInThrottle.failed_count)
        ).scalar_one()
    )


def _password_matches(password_hash: str | None, password: str) -> bool:
    """Verify against the account's hash, or a dummy one when it has none, so that
    the answer takes as long whether or not the account exists."""
    dummy = _dummy_hash()  # made whether or not the account exists: the same time either way
    try:
        return bool(_hasher.verify(password_hash or dummy, password or "-")) and (
            password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def _why_refused(user: User | None) -> str | None:
    """What the audit trail says about a refusal that the user is told is a wrong
    password (None: it was a wrong password)."""
    if user is None:
        return "no account with this username"
    if not user.is_active:
        return "the account is disabled"
    if user.password_hash is None:
        return "the account signs in only through single sign-on"
    return None


def authenticate(
    url: str,
    username: str,
    password: str,
    now: dt.datetime | None = None,
    *,
    allow_demo: bool = False,
    source: str | None = None,
) -> Actor:
    """Check a local password; slows down repeated failures. Raises SignInRefusedError.

    Failures are counted per username *and* source (the client's address, when the
    page knows it): someone guessing from elsewhere makes their own wait longer, not
    the real user's. A disabled account, a username without an account and one that
    signs in only through single sign-on are refused, counted and slowed down exactly
    as a wrong password is, whatever password was typed, so the answers tell nothing.
    Every refusal is audited, also those during a wait.

    ``allow_demo`` is true only in demo mode: a production database that was once
    seeded keeps its demo accounts, and they must not open it.
    """
    now = now or utcnow()
    username = (username or "").strip().lower() if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    too_long = len(password) > MAX_PASSWORD_LENGTH  # never a password cupboard accepted
    key = throttle_key(username, source)
    refusal: str | None = None
    actor: Actor | None = None
    with unit_of_work(url) as session:
        failed_count, last_failed_at = _lock_throttle(session, key, now)
        user = session.scalar(select(User).where(User.username == username))
        who = actor_of(user) if user is not None else stranger(username)
        user_id = user.id if user is not None else None
        remaining = _retry_wait(failed_count, last_failed_at, now)
        if remaining:
            # Refused before the password is even looked at: a right guess during the
            # wait is as useless as a wrong one. Not counted, so the wait does not grow.
            refusal = _too_many(remaining)
            record_event(
                session,
                who,
                "sign_in_refused",
                "user",
                user_id,
                reason=f"{failed_count} failed sign-ins from this source; "
                f"{remaining} s of the wait left",
            )
        elif (
            user is not None
            and user.is_active
            # A password longer than any allowed is checked against the dummy hash:
            # refused, in the time a real check takes.
            and _password_matches(
                None if too_long else user.password_hash, password[:MAX_PASSWORD_LENGTH]
            )
        ):
            if user.is_demo and not allow_demo:
                # The demo password is published on the sign-in page: saying so is no leak.
                refusal = "Demo accounts can sign in only when cupboard runs in demo mode."
                record_event(session, who, "sign_in_refused", "user", user.id, reason=refusal)
            else:
                session.execute(delete(SignInThrottle).where(SignInThrottle.username_digest == key))
                changes: dict[str, Any] = {"failed_login_count": 0, "last_login_at": now}
                if user.password_hash and _hasher.check_needs_rehash(user.password_hash):
                    changes["password_hash"] = _hasher.hash(password)
                _bookkeeping(session, user.id, **changes)
                record_event(session, who, "sign_in", "user", user.id)
                actor = who
        else:
            if user is None or not user.is_active:
                # One hash check on every path, so a refusal takes as long whether or
                # not the account exists and is active.
                _password_matches(None, password[:MAX_PASSWORD_LENGTH])
            failures = _count_failure(session, key, now)
            if user is not None:
                _bookkeeping(
                    session,
                    user.id,
                    failed_login_count=User.failed_login_count + 1,
                    last_failed_login_at=now,
                )
            record_event(
                session, who, "sign_in_refused", "user", user_id, reason=_why_refused(user)
            )
            refusal = _failure_message(failures)
    # Refused after the transaction commits, so the count and the audit row are kept.
    if refusal is not None or actor is None:
        raise SignInRefusedError(refusal or WRONG_CREDENTIALS)
    return actor


OIDC_NOT_LINKED = "Your identity is not linked to an active cupboard account. Ask an administrator."


def actor_for_oidc(
    url: str,
    subject: str,
    email: str | None,
    *,
    email_verified: bool = True,
    allow_demo: bool = False,
) -> Actor:
    """Map an OIDC identity to a cupboard user by subject, then by email (first sign-in).

    An identity with no matching active account is refused: the identity provider
    proves who someone is; cupboard's admin decides what they may do. Matching by
    email happens once, links the subject to the account (audited), and only when the
    provider says it verified the address.
    """
    if not isinstance(subject, str) or not subject.strip():
        raise SignInRefusedError("The identity provider sent no subject; sign-in refused.")
    subject = subject.strip()
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.oidc_subject == subject))
        if user is None and isinstance(email, str) and email.strip() and email_verified:
            candidates = session.scalars(
                select(User)
                .where(func.lower(User.email) == email.strip().lower(), User.oidc_subject.is_(None))
                .limit(2)
            ).all()
            if len(candidates) == 1:
                user = candidates[0]
                if user.is_active and (allow_demo or not user.is_demo):
                    apply_update(
                        session,
                        actor_of(user),
                        user,
                        {"oidc_subject": subject},
                        user.version,
                        reason="linked to the identity provider at first sign-in",
                    )
        if user is None or not user.is_active or (user.is_demo and not allow_demo):
            raise SignInRefusedError(OIDC_NOT_LINKED)
        _bookkeeping(session, user.id, last_login_at=utcnow())
        record_event(session, actor_of(user), "sign_in", "user", user.id, reason="oidc")
        return actor_of(user)


def signed_in_actor(url: str, user_id: int | None, *, allow_demo: bool = False) -> Actor | None:
    """The account as it is now, for a session that signed in earlier.

    None when it was deactivated (or is a demo account outside demo mode): a role
    change or deactivation takes effect at the user's next click, not next sign-in.
    """
    if user_id is None:
        return None
    with unit_of_work(url) as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active or (user.is_demo and not allow_demo):
            return None
        return actor_of(user)


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    role: str
    discipline: str | None
    is_active: bool
    is_demo: bool
    version: int


def list_users(url: str, roles: tuple[str, ...] | None = None) -> list[UserRow]:
    """Names and roles for pickers (e.g. a case's oncologist); no sign-in details."""
    with unit_of_work(url) as session:
        query = select(User).order_by(User.display_name)
        if roles:
            query = query.where(User.role.in_(roles))
        return [
            UserRow(
                u.id,
                u.username,
                u.display_name,
                u.role,
                u.discipline,
                u.is_active,
                u.is_demo,
                u.version,
            )
            for u in session.scalars(query)
        ]


@dataclass(frozen=True)
class AccountRow:
    """An account as the admin page shows it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    discipline: str | None
    email: str | None
    has_password: bool
    oidc_linked: bool
    is_active: bool
    is_demo: bool
    last_login_at: dt.datetime | None
    failed_login_count: int
    locked_for_seconds: int
    version: int


def list_accounts(ctx: ServiceContext, now: dt.datetime | None = None) -> list[AccountRow]:
    now = now or utcnow()
    with ctx.writing("manage_users") as session:
        return [
            AccountRow(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                role=u.role,
                discipline=u.discipline,
                email=u.email,
                has_password=u.password_hash is not None,
                oidc_linked=u.oidc_subject is not None,
                is_active=u.is_active,
                is_demo=u.is_demo,
                last_login_at=_aware(u.last_login_at) if u.last_login_at else None,
                failed_login_count=u.failed_login_count,
                locked_for_seconds=seconds_until_retry(session, u.username, now),
                version=u.version,
            )
            for u in session.scalars(select(User).order_by(User.username))
        ]


_USER_VALIDATORS: dict[str, Callable[[object], object]] = {
    "display_name": lambda x: v.identity_text("display_name", x, 120),
    "role": lambda x: v.choice("role", x, ROLES),
    "discipline": lambda x: v.optional_choice("discipline", x, DISCIPLINES),
    "is_active": _validate_active,
    "email": validate_email,
    # Clearing the link lets the next OIDC sign-in match by email again.
    "oidc_subject": lambda x: v.optional_text("oidc_subject", x, 255),
}


def update_user(
    ctx: ServiceContext, user_id: int, seen_version: int, changes: dict[str, object]
) -> dict[str, tuple[object, object]]:
    """Change an account's role, name, discipline, email, link or active flag."""
    cleaned: dict[str, object] = {}
    for key, value in changes.items():
        if key not in _USER_VALIDATORS:
            raise ValidationError(key, "is not a field of a user that can be changed here")
        cleaned[key] = _USER_VALIDATORS[key](value)
    with ctx.writing("manage_users") as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("user", user_id)
        if user.id == ctx.actor.user_id:
            if cleaned.get("role", "admin") != "admin":
                raise ValidationError("role", "you cannot remove your own administrator role")
            if cleaned.get("is_active", True) is False:
                raise ValidationError("is_active", "you cannot deactivate your own account")
        email = cleaned.get("email")
        if isinstance(email, str) and _email_taken(session, email, except_user_id=user.id):
            raise ValidationError("email", f"{email} already belongs to another account")
        subject = cleaned.get("oidc_subject")
        if subject is not None and session.scalar(
            select(User.id).where(User.oidc_subject == subject, User.id != user.id)
        ):
            raise ValidationError("oidc_subject", "is already linked to another account")
        return apply_update(session, ctx.actor, user, cleaned, seen_version)


def reset_password(ctx: ServiceContext, user_id: int, seen_version: int, new_password: str) -> None:
    """Set a new password (audited as changed, never with its value) and lift any lockout."""
    with ctx.writing("manage_users") as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("user", user_id)
        if user.is_demo:
            raise ValidationError("password", "demo accounts keep the published demo password")
        password = validate_password(
            new_password, about=(user.username, user.display_name, user.email)
        )
        # The waits of every source go first: a sign-in takes its throttle row before
        # the account's, so taking them in the same order here cannot deadlock.
        session.execute(
            delete(SignInThrottle)
            .where(_account_keys(user.username))
            .execution_options(synchronize_session=False)
        )
        apply_update(
            session,
            ctx.actor,
            user,
            {"password_hash": _hasher.hash(password)},
            seen_version,
            reason="password reset by an administrator",
        )
        _bookkeeping(session, user.id, failed_login_count=0, last_failed_login_at=None)


def count_users(url: str) -> int:
    with unit_of_work(url) as session:
        return session.scalar(select(func.count(User.id))) or 0


def sign_in_source(peer: str | None, forwarded_for: str | None) -> str | None:
    """The address a sign-in comes from, for its throttle (None: not known).

    ``peer`` is the client's address as Streamlit gives it (``st.context.ip_address``).
    Behind the reverse proxy of docs/deployment.md, on this machine, Streamlit's web
    server already takes it from ``X-Forwarded-For``: the last address there, the one the
    proxy appended itself (those before it are whatever the client sent). When Streamlit
    gives None (a connection from this machine) that last address is taken here: only a
    process on this machine, the proxy, can have sent the header. From any other peer
    the header is ignored: anyone can write it.
    """
    if peer:
        return peer
    if forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        return last[:64] or None
    return None
