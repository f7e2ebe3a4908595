"""The shared guard every page starts with: setup, sign-in, role check.

Streamlit runs a file of ``pages/`` on its own when the first request after a
server start deep-links to it (legacy multipage mode, before ``st.navigation`` has
run in the process), so a page must be safe without ``dashboard.py``: this guard
repeats everything ``dashboard.py`` relies on.
"""

from __future__ import annotations

import streamlit as st

from cupboard.db import database_url
from cupboard.errors import CupboardError
from cupboard.permissions import PERMISSIONS, Actor, may
from cupboard.services.accounts import SignInRefusedError, authenticate
from cupboard.services.context import ServiceContext
from cupboard.startup import demo_mode, prepare_database

ACTOR_KEY = "cupboard_actor"
APP_TITLE = "cupboard · CUP tumour board"


def configure_page() -> None:
    st.set_page_config(page_title=APP_TITLE, page_icon="🗄️", layout="wide")


def current_actor() -> Actor | None:
    actor = st.session_state.get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else None


def sign_out() -> None:
    st.session_state.pop(ACTOR_KEY, None)
    if _oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: local accounts only
        return False


def render_sign_in(url: str) -> None:
    """The sign-in form. Shows no patient data."""
    st.title("cupboard")
    st.caption("Tumour board for Cancer of Unknown Primary. Sign in to continue.")
    if _oidc_configured():
        from cupboard.services.accounts import actor_for_oidc

        if getattr(st.user, "is_logged_in", False):
            try:
                st.session_state[ACTOR_KEY] = actor_for_oidc(
                    url, str(st.user.get("sub", "")), st.user.get("email")
                )
                st.rerun()
            except SignInRefusedError as refusal:
                st.error(str(refusal))
        st.button("Sign in with your organisation account", on_click=st.login, key="sso")
        st.divider()
    with st.form("sign_in", clear_on_submit=False):
        username = st.text_input("Username", key="sign_in_username")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            st.session_state[ACTOR_KEY] = authenticate(url, username, password)
        except SignInRefusedError as refusal:
            st.error(str(refusal))
        else:
            st.rerun()
    if demo_mode():
        st.info(
            "**Demo mode** — synthetic patients only. Demo accounts (password `demo`): "
            "`demo-chair`, `demo-oncologist`, `demo-navigator`, `demo-pathologist`, "
            "`demo-viewer`, `demo-admin`."
        )


def page_guard(action: str = "view_cases") -> ServiceContext:
    """Set up the page, require a signed-in user allowed to ``action``; else stop."""
    configure_page()
    url = database_url()
    prepare_database(url, demo_mode())
    actor = current_actor()
    if actor is None:
        render_sign_in(url)
        st.stop()
    assert actor is not None
    if not may(actor.role, action):
        allowed = ", ".join(PERMISSIONS.get(action, ()))
        st.error(f"Your role ({actor.role}) may not open this page: it needs one of {allowed}.")
        st.stop()
    return ServiceContext(url, actor)


def show_error(error: CupboardError) -> None:
    """Every refused action says why, as plain text (never HTML)."""
    st.error(str(error), icon="⛔")
