"""QR codes of IO links, for phone demos. No Streamlit here: bytes in, bytes out."""

from __future__ import annotations

import io

import segno


def qr_png(text: str, *, scale: int = 5) -> bytes:
    """A PNG of `text` with error correction M (readable from a screen at arm's length)."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def qr_svg(text: str, *, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="svg", scale=scale, border=2)
    return buffer.getvalue()
