"""The Connect page's widgets: the time left on a signed link."""

from __future__ import annotations

import pytest

from dashboard.connect_widgets import duration_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (14 * 86_400 - 1, "13 days 23 h"),
        (48 * 3600, "2 days 0 h"),
        (86_400, "24 h 0 min"),
        (86_399, "23 h 59 min"),
        (3_600, "1 h 0 min"),
        (59 * 60, "59 min"),
        (59, "less than a minute"),
        (0, "less than a minute"),
        (-5, "less than a minute"),
    ],
)
def test_duration_text(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text
