"""User accounts: local sign-in (argon2 hashes), OIDC mapping, roles, throttling."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from cupboard import validation as v
from cupboard.db import unit_of_work
from cupboard.errors import CupboardError, NotFoundError, ValidationError
from cupboard.knowledge.decisions import DISCIPLINES
from cupboard.models import User, utcnow
from cupboard.permissions import ROLES, SYSTEM_ACTOR, Actor
from cupboard.services.audit import apply_update, record_creation, record_event
from cupboard.services.context import ServiceContext

_hasher = PasswordHasher()
# Verifying against a dummy hash for unknown users keeps the timing of a refusal
# the same whether or not the user exists.
_DUMMY_HASH = _hasher.hash("cupboard-dummy-password")

MIN_PASSWORD_LENGTH = 10
FREE_ATTEMPTS = 3
MAX_LOCKOUT_SECONDS = 15 * 60


class SignInRefusedError(CupboardError):
    """Wrong credentials, inactive account, or too many recent failures."""


def lockout_seconds(failed_count: int) -> int:
    """After three free attempts each further failure doubles the wait (max 15 min)."""
    if failed_count < FREE_ATTEMPTS:
        return 0
    return min(2 ** (failed_count - FREE_ATTEMPTS) * 5, MAX_LOCKOUT_SECONDS)


def actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id, username=user.username, display_name=user.display_name, role=user.role
    )


def validate_username(value: object) -> str:
    username = v.text("username", value, 64).lower()
    if not all(ch.isalnum() or ch in "._-@" for ch in username):
        raise ValidationError("username", "may contain letters, digits and . _ - @ only")
    return username


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
        "display_name": v.text("display_name", display_name, 120),
        "role": v.choice("role", role, ROLES),
        "discipline": v.optional_choice("discipline", discipline, DISCIPLINES),
        "email": v.optional_text("email", email, 255),
        "oidc_subject": v.optional_text("oidc_subject", oidc_subject, 255),
    }
    if password is None and values["oidc_subject"] is None and values["email"] is None:
        raise ValidationError("password", "give a password, or an email/subject for OIDC sign-in")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH and not is_demo:
        raise ValidationError("password", f"must have at least {MIN_PASSWORD_LENGTH} characters")
    with unit_of_work(url) as session:
        taken = session.scalar(select(User.id).where(User.username == values["username"]))
        if taken is not None:
            raise ValidationError("username", f"{values['username']} is already taken")
        user = User(
            **values,
            password_hash=_hasher.hash(password) if password is not None else None,
            is_demo=is_demo,
        )
        session.add(user)
        record_creation(session, actor, user)
        return user.id


def add_user(ctx: ServiceContext, **fields: object) -> int:
    ctx.require("manage_users")
    return create_user(ctx.database_url, ctx.actor, **fields)  # type: ignore[arg-type]


def authenticate(url: str, username: str, password: str, now: dt.datetime | None = None) -> Actor:
    """Check a local password; slows down repeated failures. Raises SignInRefusedError."""
    now = now or utcnow()
    username = (username or "").strip().lower()
    refusal: str | None = None
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or user.password_hash is None:
            with contextlib.suppress(VerificationError):
                _hasher.verify(_DUMMY_HASH, password or "-")
            raise SignInRefusedError("Wrong username or password.")
        wait = lockout_seconds(user.failed_login_count)
        if wait and user.last_failed_login_at is not None:
            last = user.last_failed_login_at
            if last.tzinfo is None:
                last = last.replace(tzinfo=dt.UTC)
            remaining = int((last + dt.timedelta(seconds=wait) - now).total_seconds())
            if remaining > 0:
                raise SignInRefusedError(
                    f"Too many failed sign-ins. Try again in {remaining} seconds."
                )
        try:
            _hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            # Counted and audited in this transaction, which commits; refused after it.
            user.failed_login_count += 1
            user.last_failed_login_at = now
            record_event(session, actor_of(user), "sign_in_refused", "user", user.id)
            refusal = "Wrong username or password."
        else:
            if not user.is_active:
                raise SignInRefusedError("This account is disabled. Ask an administrator.")
            user.failed_login_count = 0
            user.last_login_at = now
            record_event(session, actor_of(user), "sign_in", "user", user.id)
            actor = actor_of(user)
    if refusal is not None:
        raise SignInRefusedError(refusal)
    return actor


def actor_for_oidc(url: str, subject: str, email: str | None) -> Actor:
    """Map an OIDC identity to a cupboard user by subject, then by email (first sign-in).

    An identity with no matching active account is refused: the identity provider
    proves who someone is; cupboard's admin decides what they may do.
    """
    with unit_of_work(url) as session:
        user = session.scalar(select(User).where(User.oidc_subject == subject))
        if user is None and email:
            user = session.scalar(
                select(User).where(
                    func.lower(User.email) == email.lower(), User.oidc_subject.is_(None)
                )
            )
            if user is not None:
                apply_update(session, SYSTEM_ACTOR, user, {"oidc_subject": subject}, user.version)
        if user is None or not user.is_active:
            raise SignInRefusedError(
                "Your identity is not linked to an active cupboard account. Ask an administrator."
            )
        user.last_login_at = utcnow()
        record_event(session, actor_of(user), "sign_in", "user", user.id, reason="oidc")
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


def update_user(
    ctx: ServiceContext, user_id: int, seen_version: int, changes: dict[str, object]
) -> dict[str, tuple[object, object]]:
    ctx.require("manage_users")
    validators = {
        "display_name": lambda x: v.text("display_name", x, 120),
        "role": lambda x: v.choice("role", x, ROLES),
        "discipline": lambda x: v.optional_choice("discipline", x, DISCIPLINES),
        "is_active": lambda x: bool(x),
        "email": lambda x: v.optional_text("email", x, 255),
    }
    cleaned = {}
    for key, value in changes.items():
        if key not in validators:
            raise ValidationError(key, "is not a field of a user that can be changed here")
        cleaned[key] = validators[key](value)
    with unit_of_work(ctx.database_url) as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("user", user_id)
        if user.id == ctx.actor.user_id and cleaned.get("role", "admin") != "admin":
            raise ValidationError("role", "you cannot remove your own administrator role")
        return apply_update(session, ctx.actor, user, cleaned, seen_version)


def count_users(url: str) -> int:
    with unit_of_work(url) as session:
        return session.scalar(select(func.count(User.id))) or 0
