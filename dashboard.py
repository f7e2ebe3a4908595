"""cupboard: entry point. `streamlit run dashboard.py`.

Page config, the navigation over ``pages/`` (on every run, also before sign-in, so
Streamlit never falls back to its legacy pages/ mode), and the signed-in user's
name with a sign-out button. Each page runs the shared guard itself. An error no rule
foresaw (the database down, a bug) is shown as one plain sentence and logged with its
trace on the server (cupboard/ui/errors.py), never as a trace in the browser.
"""

import streamlit as st

from cupboard.ui.errors import debugging, show_unexpected_error
from cupboard.ui.guard import check_actor_for_this_run, configure_page, sign_out
from cupboard.ui.navigation import build_navigation

configure_page()
try:
    actor = check_actor_for_this_run()
    page = build_navigation(actor)
    if actor is not None:
        with st.sidebar:
            st.caption("Signed in as")
            st.text(f"{actor.display_name} ({actor.role})")
            st.button("Sign out", on_click=sign_out, key="sign_out")
    page.run()
except Exception as error:  # st.stop() and st.rerun() are not Exceptions: they pass
    if debugging():
        raise
    show_unexpected_error(error)
