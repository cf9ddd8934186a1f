"""QR codes of an IO link, as PNG and SVG."""

from __future__ import annotations

from dashboard.qr_code import qr_png, qr_svg


def test_qr_codes_are_png_and_svg_and_grow_with_the_link() -> None:
    short, long = qr_png("https://x.test/a"), qr_png("https://x.test/" + "a" * 300)
    assert short.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(long) > len(short)
    assert qr_svg("https://x.test/a").lstrip().startswith(b"<?xml")
