"""Users: list accounts, add one, change a role, deactivate, reset a password.

Edits carry the version of the account the administrator saw: if another
administrator saved first, the change is refused and says what they changed.
"""

import streamlit as st

from cupboard.errors import ConflictError, CupboardError
from cupboard.knowledge.decisions import DISCIPLINES
from cupboard.permissions import ROLES, allowed_actions
from cupboard.services.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountRow,
    add_user,
    list_accounts,
    reset_password,
    update_user,
)
from cupboard.ui.guard import page_guard, show_error
from cupboard.ui.text import escape_markdown

ctx = page_guard("manage_users")

NO_DISCIPLINE = ""
SEEN_KEY = "admin_seen_account"
FLASH_KEY = "admin_flash"


def _discipline_label(code: str) -> str:
    return DISCIPLINES.get(code, "—")


def _sign_in_method(row: AccountRow) -> str:
    methods = []
    if row.has_password:
        methods.append("password")
    if row.oidc_linked:
        methods.append("SSO (linked)")
    elif row.email:
        methods.append("SSO (links at first sign-in)")
    return ", ".join(methods) or "none"


st.title("Users")
if FLASH_KEY in st.session_state:
    # Names typed by an administrator: shown literally, never as markdown.
    st.success(escape_markdown(st.session_state.pop(FLASH_KEY)))
accounts = list_accounts(ctx)
by_id = {a.id: a for a in accounts}
st.dataframe(
    [
        {
            "Username": a.username,
            "Name": a.display_name,
            "Role": a.role,
            "Discipline": DISCIPLINES.get(a.discipline or "", ""),
            "Email": a.email or "",
            "Sign-in": _sign_in_method(a),
            "Active": a.is_active,
            "Demo": a.is_demo,
            "Last sign-in (UTC)": f"{a.last_login_at:%Y-%m-%d %H:%M}" if a.last_login_at else "",
            "Locked (s)": a.locked_for_seconds or None,
        }
        for a in accounts
    ],
    hide_index=True,
)
with st.expander("What each role may do"):
    for role, description in ROLES.items():
        st.text(f"{description}\n  may: {', '.join(allowed_actions(role))}")

st.subheader("Add a user")
with st.form("add_user", clear_on_submit=False):
    left, right = st.columns(2)
    username = left.text_input("Username", key="new_username", max_chars=64)
    display_name = right.text_input("Display name", key="new_display_name", max_chars=120)
    role = left.selectbox(
        "Role", list(ROLES), format_func=lambda r: ROLES[r], key="new_role", index=None
    )
    discipline = right.selectbox(
        "Discipline",
        [NO_DISCIPLINE, *DISCIPLINES],
        format_func=_discipline_label,
        key="new_discipline",
    )
    password = left.text_input(
        "Password (local sign-in)",
        type="password",
        key="new_password",
        max_chars=1024,
        help=f"At least {MIN_PASSWORD_LENGTH} characters and hard to guess: a few "
        "ordinary words together pass; common passwords, repeats and the user's own "
        "name do not. Leave empty for SSO only.",
    )
    email = right.text_input(
        "Email (SSO sign-in)",
        key="new_email",
        max_chars=255,
        help="Matched to the identity provider's verified email at first sign-in.",
    )
    added = st.form_submit_button("Add user", type="primary", key="add_user_submit")
if added:
    try:
        new_id = add_user(
            ctx,
            username=username,
            display_name=display_name,
            role=role or "",
            password=password or None,
            discipline=discipline or None,
            email=email or None,
        )
    except CupboardError as refused:
        show_error(refused)
    else:
        st.session_state[FLASH_KEY] = f"Added user {username.strip().lower()} (id {new_id})."
        for key in ("new_username", "new_display_name", "new_password", "new_email"):
            st.session_state.pop(key, None)
        st.rerun()

st.subheader("Change a user")
if not accounts:
    st.stop()
chosen_id = st.selectbox(
    "Account",
    list(by_id),
    format_func=lambda i: f"{by_id[i].username} — {by_id[i].display_name}",
    key="admin_account",
)
chosen = by_id[chosen_id] if chosen_id in by_id else accounts[0]
# The account as it was when the administrator opened it: its version goes with the
# save, so a change made meanwhile by someone else is a conflict, not an overwrite.
seen: AccountRow = st.session_state.get(SEEN_KEY)  # type: ignore[assignment]
if seen is None or seen.id != chosen.id:
    seen = chosen
    st.session_state[SEEN_KEY] = seen


def _reload() -> None:
    st.session_state.pop(SEEN_KEY, None)
    for key in list(st.session_state.keys()):
        if str(key).startswith("edit_"):
            del st.session_state[key]


with st.form(f"edit_user_{seen.id}_{seen.version}"):
    left, right = st.columns(2)
    new_display_name = left.text_input(
        "Display name", value=seen.display_name, key=f"edit_name_{seen.id}", max_chars=120
    )
    new_role = right.selectbox(
        "Role",
        list(ROLES),
        index=list(ROLES).index(seen.role),
        format_func=lambda r: ROLES[r],
        key=f"edit_role_{seen.id}",
    )
    disciplines = [NO_DISCIPLINE, *DISCIPLINES]
    new_discipline = left.selectbox(
        "Discipline",
        disciplines,
        index=disciplines.index(seen.discipline or NO_DISCIPLINE),
        format_func=_discipline_label,
        key=f"edit_discipline_{seen.id}",
    )
    new_email = right.text_input(
        "Email (SSO sign-in)", value=seen.email or "", key=f"edit_email_{seen.id}", max_chars=255
    )
    new_active = left.checkbox(
        "Active (may sign in)", value=seen.is_active, key=f"edit_active_{seen.id}"
    )
    unlink = right.checkbox(
        "Unlink the SSO identity (relinks by email at next sign-in)",
        value=False,
        disabled=not seen.oidc_linked,
        key=f"edit_unlink_{seen.id}",
    )
    saved = st.form_submit_button("Save changes", type="primary", key="edit_user_submit")
if saved:
    proposed: dict[str, object] = {
        "display_name": new_display_name,
        "role": new_role,
        "discipline": new_discipline or None,
        "email": new_email or None,
        "is_active": new_active,
    }
    current = {
        "display_name": seen.display_name,
        "role": seen.role,
        "discipline": seen.discipline,
        "email": seen.email,
        "is_active": seen.is_active,
    }
    changes = {key: value for key, value in proposed.items() if value != current[key]}
    if unlink:
        changes["oidc_subject"] = None
    if not changes:
        st.info("Nothing to save: no field was changed.")
    else:
        try:
            update_user(ctx, seen.id, seen.version, changes)
        except ConflictError as conflict:
            show_error(conflict)
            st.button("Reload the account", on_click=_reload, key="admin_reload")
        except CupboardError as refused:
            show_error(refused)
        else:
            st.session_state[FLASH_KEY] = f"Saved {', '.join(changes)} for {seen.username}."
            _reload()
            st.rerun()

with st.form(f"reset_password_{seen.id}", clear_on_submit=True):
    st.text(f"Reset the password of {seen.username}")
    first = st.text_input("New password", type="password", key="reset_1", max_chars=1024)
    second = st.text_input("Repeat it", type="password", key="reset_2", max_chars=1024)
    reset = st.form_submit_button("Reset password", key="reset_password_submit")
if reset:
    if first != second:
        st.error("Password: the two entries differ; nothing was changed.", icon="⛔")
    else:
        try:
            reset_password(ctx, seen.id, seen.version, first)
        except ConflictError as conflict:
            show_error(conflict)
            st.button("Reload the account", on_click=_reload, key="admin_reload_reset")
        except CupboardError as refused:
            show_error(refused)
        else:
            st.session_state[FLASH_KEY] = (
                f"New password set for {seen.username}; any lockout is lifted."
            )
            _reload()
            st.rerun()
