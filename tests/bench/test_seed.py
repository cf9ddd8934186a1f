"""The benchmark's events are what the Events page benchmark looks for: the old word, the channel, the numbers."""

from __future__ import annotations

from bench.seed import BENCH_CHANNEL, OLD_WORD, seed_events
from services.events.store import EventFilter, count_events, page_events


def test_seeded_events_hold_the_old_word_the_channel_and_searchable_numbers(db) -> None:
    seed_events(db, 4001)
    assert db["events"].count == 4001
    oldest = page_events(db, EventFilter(search=OLD_WORD))
    assert [row["id"] for row in oldest] == [1]
    assert [row["id"] for row in page_events(db, EventFilter(channel_id=BENCH_CHANNEL)) if row["id"] % 2000 == 1] == [
        4001,
        2001,
        1,
    ]
    assert count_events(db, EventFilter(search="+49 151 0000050")) == 1
    assert count_events(db, EventFilter(search="491510000050")) == 1
