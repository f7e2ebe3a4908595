"""Downloads of patient data: built at the click, gone from the server soon after.

``download_button`` passes Streamlit a function, not bytes (deferred download): the file
is built when the user clicks, in that browser session's connection, so the export
service checks the account, role and idle time as they are at that moment and audits
the export (``ServiceContext.writing``). A refused export shows Streamlit's plain
"Failed to generate file for download"; the refusal is in the audit trail.

What Streamlit 1.67 does with the built file: it keeps the bytes in its in-memory media
store and answers ``GET /media/<hash>.<ext>`` to anyone with that URL — no cookie, no
session check. It drops a file only when two later script runs (of any session) have
found it unreferenced, so on a quiet server an identifiable FHIR bundle stays
downloadable indefinitely, also after sign-out. So this module removes each file it
built itself: ``KEEP_SECONDS`` after the click (the browser fetches it at once), and at
once when the session signs out (:func:`forget_session_downloads`). This reaches into
Streamlit's media file manager; if a future Streamlit renames its parts, the removal
logs an error and downloads keep working.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

_log = logging.getLogger(__name__)

# Long enough for the browser to fetch the file it asked for, short enough that a copied
# link is useless by the time anyone could pass it on.
KEEP_SECONDS = 30

_lock = threading.Lock()
_built_by_session: dict[str, set[str]] = {}


def download_button(
    label: str,
    build: Callable[[], bytes],
    *,
    file_name: str,
    mime: str,
    key: str,
    icon: str | None = ":material/download:",
    help: str | None = None,
) -> None:
    """A download button whose file is built by ``build()`` (an export service call)
    at the click and removed from the server right after."""
    run = get_script_run_ctx()
    session_id = run.session_id if run is not None else ""

    def build_and_forget_later() -> bytes:
        data = build()
        file_id = _file_id(data, mime, file_name)
        if file_id is not None:
            with _lock:
                _built_by_session.setdefault(session_id, set()).add(file_id)
            timer = threading.Timer(KEEP_SECONDS, _remove, args=(session_id, file_id))
            timer.daemon = True
            timer.start()
        return data

    st.download_button(
        label,
        data=build_and_forget_later,
        file_name=file_name,
        mime=mime,
        on_click="ignore",
        icon=icon,
        key=key,
        help=help,
    )


def forget_session_downloads() -> None:
    """Remove every file this browser session built (at sign-out)."""
    run = get_script_run_ctx()
    if run is None:
        return
    with _lock:
        file_ids = _built_by_session.pop(run.session_id, set())
    for file_id in file_ids:
        _remove(run.session_id, file_id)


def _file_id(data: bytes, mime: str, file_name: str) -> str | None:
    """The id under which Streamlit stores the built file (a hash of its content)."""
    try:
        from streamlit.runtime.memory_media_file_storage import _calculate_file_id

        return _calculate_file_id(data, mime, file_name)
    except Exception:  # a Streamlit without it: the file stays until Streamlit drops it
        _log.exception("cannot tell the id of a built download; it is not removed early")
        return None


def _remove(session_id: str, file_id: str) -> None:
    with _lock:
        built = _built_by_session.get(session_id)
        if built is not None:
            built.discard(file_id)
            if not built:
                del _built_by_session[session_id]
    if not Runtime.exists():
        return
    manager = Runtime.instance().media_file_mgr
    try:
        with manager._lock:
            if file_id in manager._file_metadata:
                manager._delete_file(file_id)
    except Exception:
        _log.exception("could not remove a built download from the media store")
