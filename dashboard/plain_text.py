"""Text that must reach a Markdown-rendering element (st.error, st.warning, st.caption) as it is."""

from __future__ import annotations

import re

# Every character Markdown or Streamlit's extensions (colours, emoji shortcodes, LaTeX) give a meaning.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^&])")


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown syntax; newlines become spaces so a value cannot start a block."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))
