"""Escaping values so that Streamlit's markdown shows them as text."""

from __future__ import annotations

from dashboard.plain_text import escape_markdown


def test_escape_markdown_leaves_no_syntax() -> None:
    assert escape_markdown("**b** [x](javascript:y) :red[z]\n# h") == (
        "\\*\\*b\\*\\* \\[x\\]\\(javascript\\:y\\) \\:red\\[z\\] \\# h"
    )
