"""Times as pages show them: relative, and exact to the second in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.times import exact, human, parse, relative

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def test_exact_is_utc_to_the_second_whatever_was_stored() -> None:
    assert exact("2026-11-20T10:00:05.123456+00:00") == "2026-11-20 10:00:05 UTC"
    assert exact("2026-11-20T11:00:05+01:00") == "2026-11-20 10:00:05 UTC"
    assert exact("2026-11-20T10:00:05Z") == "2026-11-20 10:00:05 UTC"
    assert exact("2026-11-20T10:00:05") == "2026-11-20 10:00:05 UTC"
    assert exact(None) == ""
    assert exact(None, empty="never") == "never"
    assert exact("not a time") == "not a time"
    assert parse("garbage") is None


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=70), "1 min ago"),
        (timedelta(minutes=3, seconds=10), "3 min ago"),
        (timedelta(minutes=59, seconds=40), "1 h ago"),
        (timedelta(hours=5, minutes=20), "5 h ago"),
        (timedelta(hours=30), "30 h ago"),
        (timedelta(days=2, hours=3), "2 days ago"),
        (timedelta(days=1, hours=13), "2 days ago"),
        (timedelta(days=60), "2 months ago"),
        (timedelta(days=800), "2 years ago"),
        (-timedelta(minutes=4), "in 4 min"),
        (-timedelta(seconds=10), "in a moment"),
    ],
)
def test_relative_says_how_long_ago(ago: timedelta, said: str) -> None:
    assert relative((NOW - ago).isoformat(), now=NOW) == said


def test_human_puts_the_exact_time_beside_the_relative_one() -> None:
    assert human("2026-11-20T11:57:00.5+00:00", now=NOW) == "3 min ago (2026-11-20 11:57:00 UTC)"
    assert human(None, empty="none yet") == "none yet"
