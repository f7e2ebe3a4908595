"""Cached reads for pages, thrown away as soon as anyone writes anything.

Every write in cupboard adds at least one row to the append-only audit trail, in the
same transaction as the change (``cupboard/services/audit.py``). The audit trail's
high-water mark is therefore a version number of the whole database: it moves on
every committed write, from any session, any process, any server.
:func:`data_version` reads it with one indexed query, and :func:`cached_read` keys
``st.cache_data`` on (database, the read's arguments, that version): a rerun with no
write in between returns the stored result; the first rerun after a write reads afresh.

    @cached_read()
    def report(ctx: ServiceContext, filters: AnalyticsFilter, today: dt.date) -> Report:
        return build_report(service.load_analytics(ctx, filters, today), ...)

    data = report(ctx, filters, today)  # the same call, cached

Rules for a cached read:
- its first parameter is the ``ServiceContext``; every other argument can be pickled
  and says everything the result depends on (dates included: pass ``today`` rather
  than reading the clock inside);
- the result does not depend on who asks beyond their role, or the read is declared
  ``per_user=True``; the permission (``action``) is checked on every call, cache hit
  or not. The role is always part of the key, so a read that one day shows a chair
  more than a navigator cannot hand the chair's answer to the navigator;
- every caller gets its own copy of the result, plotly figures included (see
  :func:`stored` and :func:`fresh`), so a page may change what it gets without
  touching what the next user is shown.

Writes that add no audit row (sign-in counters) change nothing a cached read returns.
``CACHE_TTL`` bounds how long anything could be served stale should a write ever
slip past the version check (see :func:`data_version`).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import io
import pickle
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import plotly.graph_objects as go
import streamlit as st
from plotly.basedatatypes import BaseFigure

from cupboard.db import get_engine
from cupboard.services.context import ServiceContext

P = ParamSpec("P")
T = TypeVar("T")

# The latest audit ids looked at by data_version (see there).
DATA_VERSION_WINDOW = 200
CACHE_TTL = dt.timedelta(minutes=15)
MAX_ENTRIES = 64  # per cached read: filter combinations × versions still in use

_VERSION_SQL = (
    "SELECT max(id), min(id), count(*) FROM "  # noqa: S608 (an int constant, no input)
    f"(SELECT id FROM audit_events ORDER BY id DESC LIMIT {DATA_VERSION_WINDOW:d}) AS latest"
)


def data_version(url: str) -> int:
    """A number that grows whenever a write is committed to the database at ``url``.

    The highest audit id alone is not enough on PostgreSQL: ids are handed out when a
    row is inserted, not when its transaction commits, so a write holding id 41 may
    commit after one holding id 42 has, leaving the maximum at 42. So this looks at the
    latest ``DATA_VERSION_WINDOW`` ids: their maximum, minimum and count never go down
    (audit rows are never deleted), and a commit of any id among them raises at least
    one (the count until the window is full; then the id enters and the smallest one
    leaves). Their sum is the version. A write that commits after more than the window
    of later audit rows has been committed by others would be missed until the next
    write; ``CACHE_TTL`` bounds even that. On SQLite writers take turns (``BEGIN
    IMMEDIATE``), so ids are committed in order anyway. The query reads the primary
    key's index backwards: it costs the same at any size.

    Read with a bare DBAPI cursor, outside SQLAlchemy's transaction handling, so that
    on SQLite it is a plain WAL read, whatever the transaction around the caller
    (``cupboard/db.py``: writes begin with the write lock).
    """
    connection = get_engine(url).raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(_VERSION_SQL)
        highest, lowest, count = cursor.fetchone()
        cursor.close()
    finally:
        connection.close()  # back to the pool, which rolls back any open transaction
    return int(highest or 0) + int(lowest or 0) + int(count)


def arguments_key(arguments: dict[str, Any]) -> bytes:
    """The cache key of a read's arguments: their pickle.

    Equal pickles mean equal values (dates, strings, numbers, tuples and frozen
    dataclasses of them, which is what reads take), so a hit never returns the result
    of other arguments; at worst equal values pickle differently (a set's order) and
    the read runs again. One ``pickle.dumps`` costs a fraction of ``st.cache_data``
    hashing the same objects itself (issue 8: a cached read on every rerun)."""
    return pickle.dumps(arguments, protocol=pickle.HIGHEST_PROTOCOL)


def _fresh_figure(spec: dict[str, Any]) -> go.Figure:
    """A new figure from the plain form of one that plotly checked when it was built.
    Checking it again (what unpickling or copying a figure does) costs about as much as
    building it; taking the checked form as it is costs a few milliseconds."""
    return go.Figure(spec, _validate=False)


class _ResultPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseFigure):
            return _fresh_figure, (obj.to_dict(),)
        return NotImplemented


def stored(result: Any) -> bytes:
    """What a cache keeps of a result: its pickle, plotly figures as their plain form.

    Bytes cannot be changed, so a cache entry shared by every session stays as it was
    built whatever a page does with what it was given (:func:`fresh`)."""
    buffer = io.BytesIO()
    _ResultPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(result)
    return buffer.getvalue()


def fresh(entry: bytes) -> Any:
    """A caller's own copy of a stored result: new objects, new figures."""
    return pickle.loads(entry)  # noqa: S301 (bytes this process pickled itself)


def cached_read(
    *,
    action: str = "view_cases",
    per_user: bool = False,
    ttl: dt.timedelta = CACHE_TTL,
    max_entries: int = MAX_ENTRIES,
) -> Callable[
    [Callable[Concatenate[ServiceContext, P], T]], Callable[Concatenate[ServiceContext, P], T]
]:
    """Decorate ``read(ctx, ...)`` so that its result is cached until the next write.

    ``action``: the permission checked on every call, before the cache is consulted.
    ``per_user``: the result depends on the signed-in user (e.g. "my cases"), so each
    user has their own entries; otherwise one result serves everyone with the same role.
    """

    def decorate(
        read: Callable[Concatenate[ServiceContext, P], T],
    ) -> Callable[Concatenate[ServiceContext, P], T]:
        signature = inspect.signature(read)
        name = f"{read.__code__.co_filename}:{read.__qualname__}"
        cached = _cached_runner(name, ttl, max_entries)

        @functools.wraps(read)
        def read_cached(ctx: ServiceContext, *args: P.args, **kwargs: P.kwargs) -> T:
            ctx.check(action)  # a cache hit must not skip the account and permission check
            bound = signature.bind(ctx, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(list(bound.arguments.items())[1:])
            user_id = ctx.actor.user_id if per_user else None
            version = data_version(ctx.database_url)
            key = arguments_key(arguments)
            entry = cached(
                read, ctx, arguments, ctx.database_url, ctx.actor.role, user_id, version, key
            )
            result: T = fresh(entry)
            return result

        return read_cached

    return decorate


_runners: dict[tuple[str, dt.timedelta, int], Callable[..., bytes]] = {}
_runners_lock = threading.Lock()


def _cached_runner(name: str, ttl: dt.timedelta, max_entries: int) -> Callable[..., bytes]:
    """One ``st.cache_resource`` function per read, made once per process, keeping each
    result as :func:`stored` bytes (shared by every session, and unchangeable).

    A page script runs, and so defines and decorates its reads, on every rerun;
    ``st.cache_data`` reads a function's source to key its cache, which costs more than
    a cache hit. The runner is made once per read, and is handed the read it runs on
    each call (``_read``: not part of the key), so every session runs its own.
    """
    key = (name, ttl, max_entries)
    with _runners_lock:
        runner = _runners.get(key)
        if runner is None:

            def run(
                _read: Callable[..., Any],
                _ctx: ServiceContext,
                _arguments: dict[str, Any],
                database_url: str,
                role: str,
                user_id: int | None,
                version: int,
                arguments_key: bytes,
            ) -> bytes:
                # The parameters without a leading underscore are the cache key; they
                # are not used here. The arguments are keyed by arguments_key instead.
                return stored(_read(_ctx, **_arguments))

            # Streamlit keys a function's cache by its module, qualified name and
            # source; ``run`` has the same source for every read, so it is named after
            # the read (file included: page scripts all run as ``__main__``).
            run.__qualname__ = name
            runner = st.cache_resource(ttl=ttl, max_entries=max_entries, show_spinner=False)(run)
            _runners[key] = runner
    return runner
