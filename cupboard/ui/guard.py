"""The shared guard every page starts with: setup, sign-in, role check.

Streamlit runs a file of ``pages/`` on its own when the first request after a
server start deep-links to it (legacy multipage mode, before ``st.navigation`` has
run in the process), so a page must be safe without ``dashboard.py``: this guard
repeats everything ``dashboard.py`` relies on.

Sign-in is either a local account (argon2 password, throttled) or, when an ``[auth]``
section is configured in ``.streamlit/secrets.toml``, the organisation's OpenID
Connect provider through ``st.login``; the identity is then mapped to a cupboard
account, whose role decides what the person may do (docs/deployment.md).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cupboard.db import database_url
from cupboard.errors import CupboardError
from cupboard.permissions import PERMISSIONS, Actor, may
from cupboard.services.accounts import (
    SignInRefusedError,
    actor_for_oidc,
    authenticate,
    sign_in_source,
    signed_in_actor,
)
from cupboard.services.context import ServiceContext
from cupboard.startup import demo_mode, prepare_database
from cupboard.ui.downloads import forget_session_downloads
from cupboard.ui.text import escape_markdown

ACTOR_KEY = "cupboard_actor"
# Sign-out after a while without a click: a shared screen in the meeting room or a ward
# computer must not stay signed in for whoever sits down next. Only the user's own
# actions count (a run of the page); meeting mode's ticking timers do not.
ENV_IDLE_MINUTES = "CUPBOARD_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30
LAST_ACTIVITY_KEY = "cupboard_last_activity"
IDLE_NOTICE_KEY = "cupboard_signed_out_idle"
ACCOUNT_NOTICE_KEY = "cupboard_signed_out_account"
OIDC_REFUSAL_KEY = "cupboard_oidc_refusal"
APP_TITLE = "cupboard · CUP tumour board"
ENV_LOCAL_SIGN_IN = "CUPBOARD_LOCAL_SIGN_IN"
# Keys of an [auth] section that are settings shared by all providers, not providers.
_SHARED_AUTH_KEYS = {"redirect_uri", "cookie_secret", "expose_tokens"}


def configure_page() -> None:
    st.set_page_config(page_title=APP_TITLE, page_icon="🗄️", layout="wide")


# The account as dashboard.py checked it at the start of this run, for the page's guard
# to take instead of asking the database a second time in the same run. Per script
# thread (one session's runs share a thread, one run at a time), and taken, not read:
# a value left by an earlier run can never stand in for this run's check.
_checked_this_run = threading.local()


def idle_timeout_minutes() -> int:
    """Minutes without a click before a session is signed out (0: never)."""
    raw = os.environ.get(ENV_IDLE_MINUTES, "").strip()
    if not raw:
        return DEFAULT_IDLE_MINUTES
    if not raw.isdigit():
        raise ValueError(
            f"{ENV_IDLE_MINUTES}: give whole minutes (0 turns the sign-out off), not {raw!r}"
        )
    return int(raw)


def current_actor() -> Actor | None:
    """The signed-in user as the database knows them now, or None.

    Re-read on every run, so an administrator's role change or deactivation takes
    effect at the user's next click; a deactivated user is signed out, and so is a
    session left without a click for longer than the idle timeout.
    """
    actor = st.session_state.get(ACTOR_KEY)
    if not isinstance(actor, Actor):
        return None
    now = time.time()
    minutes = idle_timeout_minutes()
    last = st.session_state.get(LAST_ACTIVITY_KEY)
    if minutes and isinstance(last, float) and now - last > minutes * 60:
        _sign_out_idle(minutes)
        return None
    fresh = signed_in_actor(database_url(), actor.user_id, allow_demo=demo_mode())
    if fresh is None:
        _forget_session()
        st.session_state[ACCOUNT_NOTICE_KEY] = True
        return None
    if fresh != actor:
        st.session_state[ACTOR_KEY] = fresh
    st.session_state[LAST_ACTIVITY_KEY] = now
    return fresh


def _sign_out_idle(minutes: int) -> None:
    """Forget the session (and leave the identity provider, which would otherwise sign
    the user straight back in); the sign-in form says why."""
    leave_provider = _identity_provider_signed_in()
    _forget_session()
    st.session_state[IDLE_NOTICE_KEY] = minutes
    if leave_provider:
        st.logout()


def check_actor_for_this_run() -> Actor | None:
    """:func:`current_actor`, for dashboard.py at the start of a run: the page's guard,
    later in the same run, takes the result instead of checking again."""
    actor = current_actor()
    _checked_this_run.value = actor
    return actor


def _actor_checked_this_run() -> Actor | None:
    actor = getattr(_checked_this_run, "value", None)
    _checked_this_run.value = None
    if actor is not None and st.session_state.get(ACTOR_KEY) == actor:
        return actor
    return current_actor()


def _forget_session() -> None:
    """Drop everything this browser session holds: the user, every widget value, and
    any file it downloaded that the server still keeps (cupboard/ui/downloads.py)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    forget_session_downloads()


def sign_out() -> None:
    """Button callback: forget the session; leave the identity provider too, if used."""
    _forget_session()
    if _identity_provider_signed_in():
        st.logout()


def _auth_section() -> Mapping[str, Any] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets.toml at all (or unreadable): local accounts only
        return None
    return section if isinstance(section, Mapping) and section else None


def oidc_providers() -> list[str | None]:
    """Providers to offer: ``None`` for settings directly in ``[auth]``, else the
    names of ``[auth.<name>]`` sections (as ``st.login(provider)`` expects)."""
    section = _auth_section()
    if section is None:
        return []
    if "client_id" in section:
        return [None]
    return [
        str(name)
        for name, value in section.items()
        if name not in _SHARED_AUTH_KEYS and isinstance(value, Mapping)
    ]


def _identity_provider_signed_in() -> bool:
    if _auth_section() is None:
        return False
    try:
        return bool(st.user.is_logged_in)
    except Exception:  # st.user without an auth configuration
        return False


def _authlib_installed() -> bool:
    from streamlit.auth_util import is_authlib_installed

    return is_authlib_installed()


def _claim_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _actor_from_identity_provider(url: str) -> Actor | None:
    """A user signed in at the identity provider is mapped to their cupboard account
    once per session. A refusal is remembered so it is not re-audited on every run."""
    if not _identity_provider_signed_in() or OIDC_REFUSAL_KEY in st.session_state:
        return None
    claims = st.user.to_dict()
    # Providers that do not send ``email_verified`` (e.g. Microsoft Entra ID) verify
    # the address themselves; an explicit "false" is never trusted.
    verified = claims.get("email_verified", True)
    try:
        actor = actor_for_oidc(
            url,
            str(claims.get("sub") or ""),
            claims.get("email") if isinstance(claims.get("email"), str) else None,
            email_verified=_claim_true(verified),
            allow_demo=demo_mode(),
        )
    except SignInRefusedError as refusal:
        st.session_state[OIDC_REFUSAL_KEY] = str(refusal)
        return None
    st.session_state[ACTOR_KEY] = actor
    st.rerun()  # so dashboard.py builds the navigation for the signed-in user


def local_sign_in_enabled() -> bool:
    """Local accounts are on unless turned off (e.g. when every user has SSO)."""
    flag = os.environ.get(ENV_LOCAL_SIGN_IN, "").strip().lower()
    return flag not in ("0", "false", "no", "off") or not oidc_providers()


def _render_single_sign_on() -> None:
    providers = oidc_providers()
    if not providers:
        return
    refusal = st.session_state.get(OIDC_REFUSAL_KEY)
    if refusal:
        # Signed in at the provider, but as nobody cupboard knows: offer to switch.
        st.error(refusal, icon="⛔")
        st.button("Sign out of the identity provider", on_click=sign_out, key="sso_sign_out")
    elif not _authlib_installed():
        st.warning(
            "Single sign-on is configured but the Authlib package is missing on the "
            "server (pip install 'Authlib>=1.3.2'). Ask your administrator."
        )
    else:
        for provider in providers:
            label = "Sign in with your organisation account"
            if provider is not None and len(providers) > 1:
                label = f"Sign in with {provider}"
            st.button(
                label,
                on_click=st.login,
                args=(provider,) if provider is not None else (),
                key=f"sso_{provider or 'default'}",
                type="primary",
            )
    st.divider()


def render_sign_in(url: str) -> None:
    """The sign-in form. Shows no patient data."""
    st.title("cupboard")
    st.caption("Tumour board for Cancer of Unknown Primary. Sign in to continue.")
    idle_minutes = st.session_state.get(IDLE_NOTICE_KEY)
    if isinstance(idle_minutes, int):
        st.info(
            f"You were signed out after {idle_minutes} minutes without activity. "
            "Sign in again to continue.",
            icon=":material/lock_clock:",
        )
    if st.session_state.get(ACCOUNT_NOTICE_KEY):
        st.info(
            "You were signed out: your account is no longer active. Ask an administrator "
            "if this is unexpected.",
            icon=":material/lock:",
        )
    _render_single_sign_on()
    if not local_sign_in_enabled():
        return
    with st.form("sign_in", clear_on_submit=False):
        username = st.text_input("Username", key="sign_in_username", max_chars=64)
        password = st.text_input(
            "Password", type="password", key="sign_in_password", max_chars=1024
        )
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            # Failures are counted per username and address: a stranger's guesses
            # lengthen the stranger's wait, not the user's (docs/deployment.md).
            source = sign_in_source(
                st.context.ip_address, st.context.headers.get("X-Forwarded-For")
            )
            actor = authenticate(url, username, password, allow_demo=demo_mode(), source=source)
        except SignInRefusedError as refusal:
            st.error(str(refusal), icon="⛔")
        else:
            # A fresh session for the signed-in user: nothing typed before carries over.
            _forget_session()
            st.session_state[ACTOR_KEY] = actor
            st.rerun()
    if demo_mode():
        st.info(
            "**Demo mode** — synthetic patients only. Demo accounts (password `demo`): "
            "`demo-chair`, `demo-oncologist`, `demo-navigator`, `demo-pathologist`, "
            "`demo-viewer`, `demo-admin`."
        )


def _leave_legacy_pages_mode() -> None:
    """On a cold deep link Streamlit runs the page file on its own (legacy ``pages/``
    mode, process-wide until some run calls ``st.navigation``): no sidebar from
    dashboard.py, hence no sign-out, and every page file listed. Switch the process
    to ``st.navigation`` mode: from the next run on (the sign-in, at the latest) the
    same URL runs through dashboard.py and lands on the same page. Nothing else
    depends on this: every page is guarded in either mode."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this internal: the guard still holds
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False


def page_guard(action: str = "view_cases") -> ServiceContext:
    """Set up the page, require a signed-in user allowed to ``action``; else stop."""
    configure_page()
    _leave_legacy_pages_mode()
    url = database_url()
    prepare_database(url, demo_mode())
    actor = _actor_checked_this_run() or _actor_from_identity_provider(url)
    if actor is None:
        render_sign_in(url)
        st.stop()
    assert actor is not None
    if not may(actor.role, action):
        allowed = ", ".join(PERMISSIONS.get(action, ())) or "nobody"
        st.error(
            f"Your role ({actor.role}) may not open this page: it needs one of {allowed}.",
            icon="⛔",
        )
        st.stop()
    return _context(url, actor)


def _context(url: str, actor: Actor) -> ServiceContext:
    """The context for this run's service calls and for the callbacks of the widgets it
    draws, which Streamlit runs at the next click: the service then knows how long the
    user had left the screen (``last_activity``) and refuses past the idle limit."""
    last = st.session_state.get(LAST_ACTIVITY_KEY)
    return ServiceContext(
        url,
        actor,
        last_activity=last if isinstance(last, float) else time.time(),
        idle_minutes=idle_timeout_minutes(),
    )


def fragment_context(ctx: ServiceContext) -> ServiceContext:
    """For a section in ``st.fragment``: its rerun runs neither dashboard.py nor the
    page's guard, so it checks the session here as they would (signed out when idle
    or deactivated, the role as it is now) and counts as the user's activity."""
    run = get_script_run_ctx()
    if run is None or not run.fragment_ids_this_run:
        return ctx  # a full run: the page's guard has just checked
    actor = current_actor()
    if actor is None:
        st.rerun(scope="app")  # the whole page, which shows the sign-in form and why
    assert actor is not None
    return _context(ctx.database_url, actor)


def show_error(error: CupboardError) -> None:
    """Every refused action says why, as plain text: messages quote what the user
    typed, so markdown in it is escaped rather than rendered."""
    st.error(escape_markdown(str(error)), icon="⛔")
