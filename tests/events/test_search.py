"""What may be typed into the Events search (or put in its URL): anything. Control characters are taken out, FTS5
syntax is searched as words, a short prefix is a whole word, and an index that cannot answer is a SearchFailed,
never a database error."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.events.search import MAX_LENGTH, MIN_PREFIX, clean, fts_query, is_prefix, is_short_prefix
from services.events.store import (
    COUNT_CAP,
    PREFIX_CAP,
    EventFilter,
    SearchFailed,
    count_events,
    events_csv,
    events_over_time,
    page_events,
)
from services.events.webhook import normalise_event
from tests.support.events import save_event

HOSTILE = [
    "a\x00b",
    "\x00",
    "marker\x00-77",
    "a\x01b\x1bc\x7f",
    "a\x85b\x9fc",  # C1 controls
    "\ud800ab",  # a lone surrogate
    '"',
    'a"b',
    '"unbalanced',
    "NEAR(",
    "NEAR(a b, 2)",
    "a AND",
    "AND OR NOT",
    "a NOT b",
    "*",
    "**",
    "a**",
    "^",
    "^a",
    "body:",
    "body:marker",
    "numbers:123456",
    "{body numbers}: x",
    "-body:x",
    "(a",
    "a)",
    "a + b",
    "x" * 5_000,
    "ab " * 3_000,
    "\u2028\u2029",
    "\ufeff",
    "'; drop table events; --",
]


def _store(db, index: int, note: str, at: str | None = None) -> None:
    body = {"id": f"ev{index}", "event": "channel_created", "data": {"id": "ch1CH", "note": note}}
    with db.atomic():
        save_event(
            db,
            normalise_event(body),
            headers={},
            verdict="ok",
            received_at=at or f"2026-11-20T10:{index // 60:02d}:{index % 60:02d}.000000+00:00",
        )


def _read_everything(db, search: str) -> None:
    for event_filter in (EventFilter(search=search), EventFilter(search=search, channel_id="ch1CH")):
        page_events(db, event_filter)
        count_events(db, event_filter)
        events_over_time(db, event_filter, "minute")
        events_csv(db, event_filter)


@pytest.mark.parametrize("typed", HOSTILE)
def test_a_hostile_search_reads_without_error(db, typed: str) -> None:
    _store(db, 1, "marker-77 ab")
    _read_everything(db, typed)


def test_control_characters_are_dropped_and_a_tab_still_parts_words(db) -> None:
    _store(db, 1, "ab")
    _store(db, 2, "a b")
    assert clean("a\x00b") == "ab"
    assert clean("a\tb\r\nc") == "a b  c"
    assert clean("\x00 \x1b[31m red \x9b") == "[31m red"
    assert [row["id"] for row in page_events(db, EventFilter(search="a\x00b"))] == [1]
    assert [row["id"] for row in page_events(db, EventFilter(search="a\tb"))] == [2]
    assert count_events(db, EventFilter(search="a\x00b")) == 1


def test_fts5_syntax_is_searched_as_words(db) -> None:
    _store(db, 1, "near and body")
    _store(db, 2, "body: marker")
    assert [row["id"] for row in page_events(db, EventFilter(search="NEAR AND body"))] == [1]
    assert [row["id"] for row in page_events(db, EventFilter(search="body:marker"))] == [2]
    assert page_events(db, EventFilter(search="NEAR(")) == page_events(db, EventFilter(search="near"))
    assert count_events(db, EventFilter(search="^")) == 0


def test_very_long_input_is_cut_to_the_maximum() -> None:
    assert len(clean("x" * 10_000)) == MAX_LENGTH
    assert len(clean("\x00" * 10_000 + "abc")) == 3


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_reads_without_error(db, typed: str) -> None:
    # Each example adds nothing: the same database, read only.
    if count_events(db, EventFilter()) == 0:
        _store(db, 1, "marker-77 ab")
    _read_everything(db, typed)


def test_a_prefix_needs_three_letters_or_digits(db) -> None:
    assert MIN_PREFIX == 3
    _store(db, 1, "c")
    _store(db, 2, "ca cab cabin")
    _store(db, 3, "marker-7 marker-77")
    assert fts_query("c*") == '"c"'
    assert [is_short_prefix(typed) for typed in ("c*", "ca *", "cab*", "c", "*")] == [True, True, False, False, False]
    assert [is_prefix(typed) for typed in ("cab*", "ca*", "cab")] == [True, False, False]
    # Too short: the whole word, nothing that merely starts so.
    assert [row["id"] for row in page_events(db, EventFilter(search="c*"))] == [1]
    assert [row["id"] for row in page_events(db, EventFilter(search="ca*"))] == [2]
    assert [row["id"] for row in page_events(db, EventFilter(search="cab*"))] == [2]
    # The last word counts: "7" is one digit, so "marker-7*" is the phrase "marker 7".
    assert [row["id"] for row in page_events(db, EventFilter(search="marker-7*"))] == [3]
    assert fts_query("marker-7*") == '"marker-7"'
    assert fts_query("marker-777*") == '"marker-777" *'
    assert fts_query("cab-*") == '"cab-" *', "punctuation after the last word leaves it a prefix"


def test_a_prefix_counts_and_charts_no_further_than_its_cap(db) -> None:
    with db.atomic():
        for index in range(PREFIX_CAP + 5):
            _store(db, index, f"cabin{index}", at=f"2026-11-20T10:00:00.{index:06d}+00:00")
    assert PREFIX_CAP < COUNT_CAP
    prefix = EventFilter(search="cabin*")
    assert prefix.count_cap == PREFIX_CAP
    assert count_events(db, prefix) == PREFIX_CAP
    assert sum(row["events"] for row in events_over_time(db, prefix, "minute")) == PREFIX_CAP
    # A whole word keeps the usual cap.
    assert EventFilter(search="cabin1").count_cap == COUNT_CAP
    assert count_events(db, EventFilter(search="channel_created")) == PREFIX_CAP + 5


def _break_the_index(db) -> None:
    db.execute("drop table events_fts")


def test_an_index_that_cannot_answer_is_a_search_failure_not_a_database_error(db) -> None:
    _store(db, 1, "marker")
    _break_the_index(db)
    searching = EventFilter(search="marker")
    for read in (
        lambda: page_events(db, searching),
        lambda: count_events(db, searching),
        lambda: events_over_time(db, searching, "minute"),
        lambda: events_csv(db, searching),
    ):
        with pytest.raises(SearchFailed) as failed:
            read()
        assert "could not run" in str(failed.value)
        assert "marker" not in str(failed.value)
    # Without a search the index is not read: the other filters still work.
    assert [row["id"] for row in page_events(db, EventFilter(channel_id="ch1CH"))] == [1]
    rows = list(csv.DictReader(io.StringIO(events_csv(db, EventFilter()))))
    assert [row["id"] for row in rows] == ["1"]


def test_a_database_error_without_a_search_stays_a_database_error(db) -> None:
    _store(db, 1, "marker")
    db.execute("drop table events")
    with pytest.raises(sqlite3.OperationalError):
        page_events(db, EventFilter())
