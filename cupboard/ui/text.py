"""User text is shown as text: never as HTML, and never as live markdown."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def escape_markdown(value: object) -> str:
    """Escape every markdown/HTML-significant character so the text renders literally
    inside st.markdown/st.caption/labels (which Streamlit parses as markdown)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if value is None else str(value))
