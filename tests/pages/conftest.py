"""Page tests start with empty Streamlit caches.

Cached reads are keyed on the database URL and its audit high-water mark
(``cupboard/ui/cache.py``). The PostgreSQL tests share one URL and empty the tables
with ``TRUNCATE ... RESTART IDENTITY``, so audit ids start again at 1 in every test
and a result cached by an earlier test could match a later one's version. Shared
results (figures) live in ``st.cache_resource``, the others in ``st.cache_data``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st


def _clear() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def empty_streamlit_caches() -> Iterator[None]:
    _clear()
    yield
    _clear()
