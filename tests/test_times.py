"""Stored times as every page, alert and command shows them: UTC, cut to the second, the minute or the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.store import utc_now
from services.times import parse_utc, utc_text

STORED = "2026-11-20T10:00:05.123456+00:00"


def test_a_stored_time_reads_as_it_did_when_it_was_cut_by_hand() -> None:
    assert utc_text(STORED) == STORED[:19].replace("T", " ") == "2026-11-20 10:00:05"
    assert utc_text(STORED, zone=True) == "2026-11-20 10:00:05 UTC"
    assert utc_text(STORED, to="minute", zone=True) == "2026-11-20 10:00 UTC"
    assert utc_text(STORED, to="clock") == STORED[11:16] == "10:00"


def test_what_the_store_writes_reads_back_to_the_second() -> None:
    stored = utc_now()
    assert utc_text(stored) == stored[:19].replace("T", " ")


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-20T10:00:05Z",
        "2026-11-20T10:00:05.000Z",
        "2026-11-20T11:00:05+01:00",
        "2026-11-20T10:00:05",
        datetime(2026, 11, 20, 10, 0, 5, 999_999, tzinfo=UTC),
        datetime(2026, 11, 20, 12, 0, 5, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_any_spelling_of_a_moment_reads_in_utc(moment: str | datetime) -> None:
    assert utc_text(moment) == "2026-11-20 10:00:05"


def test_no_time_says_what_the_caller_chose() -> None:
    assert utc_text(None) == ""
    assert utc_text("", missing="never") == "never"
    assert utc_text(None, missing="an unknown time", zone=True) == "an unknown time"


def test_text_that_is_no_time_comes_back_as_it_was() -> None:
    assert utc_text("soon", zone=True) == "soon"
    assert parse_utc("soon") is None
    assert parse_utc("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)
