"""Reading events back: filters, keyset pages, capped counts, full-text search, the chart's buckets, CSV, one
event opened."""

from __future__ import annotations

import csv
import io
import json

import pytest

from services.events.store import (
    EventFilter,
    count_events,
    event_detail,
    event_types,
    events_csv,
    events_over_time,
    page_events,
    signature_verdicts,
)
from services.events.webhook import normalise_event
from tests.support.events import save_event, save_events


def _store(
    db,
    index: int,
    event: str = "channel_created",
    *,
    channel: str = "ch1CH",
    client: str = "cl1CL",
    at: str | None = None,
    extra: dict | None = None,
) -> None:
    body = {"id": f"ev{index}", "event": event, "data": {"id": channel, "client_id": client, **(extra or {})}}
    with db.atomic():
        save_event(
            db,
            normalise_event(body),
            headers={"x-360dialog-signature": "abc"},
            verdict="ok",
            received_at=at or f"2026-11-20T{index // 60:02d}:{index % 60:02d}:00.000000+00:00",
        )


def test_pages_are_newest_first_and_keyset_pages_do_not_overlap(db) -> None:
    for index in range(25):
        _store(db, index)
    first = page_events(db, EventFilter(), limit=10)
    assert [row["id"] for row in first] == list(range(25, 15, -1))
    second = page_events(db, EventFilter(), limit=10, before=(first[-1]["received_at"], first[-1]["id"]))
    assert [row["id"] for row in second] == list(range(15, 5, -1))
    assert "raw_body" not in first[0], "the list must not drag payloads along"


def test_rows_with_the_same_time_page_by_id(db) -> None:
    for index in range(6):
        _store(db, index, at="2026-11-20T10:00:00.000000+00:00")
    first = page_events(db, EventFilter(), limit=4)
    rest = page_events(db, EventFilter(), limit=4, before=(first[-1]["received_at"], first[-1]["id"]))
    assert [row["id"] for row in first + rest] == [6, 5, 4, 3, 2, 1]


def test_filters_by_type_client_channel_and_time(db) -> None:
    _store(db, 1, "channel_created", channel="a", client="x", at="2026-11-20T01:00:00+00:00")
    _store(db, 2, "channel_status_running", channel="a", client="x", at="2026-11-20T02:00:00+00:00")
    _store(db, 3, "channel_created", channel="b", client="y", at="2026-11-20T03:00:00+00:00")

    def ids(**kwargs):
        return [row["id"] for row in page_events(db, EventFilter(**kwargs))]

    assert ids(event_type="channel_created") == [3, 1]
    assert ids(client_id="x") == [2, 1]
    assert ids(channel_id="b") == [3]
    assert ids(since="2026-11-20T01:30:00+00:00") == [3, 2]
    assert ids(until="2026-11-20T02:30:00+00:00") == [2, 1]
    assert ids(event_type="channel_created", client_id="x") == [1]


def test_search_finds_words_of_payloads_and_treats_wildcards_literally(db) -> None:
    _store(db, 1, extra={"setup_info": {"phone_number": "+49 151 777"}})
    # Other channels: a number search also finds every event of the channel with that number.
    _store(db, 2, channel="ch2CH", extra={"note": "100% sure"})
    _store(db, 3, channel="ch3CH", extra={"note": "Ünïcode Marker-77"})
    assert [row["id"] for row in page_events(db, EventFilter(search="151 777"))] == [1]
    assert [row["id"] for row in page_events(db, EventFilter(search="100%"))] == [2]
    assert [row["id"] for row in page_events(db, EventFilter(search="unicode marker-77"))] == [3]
    assert [row["id"] for row in page_events(db, EventFilter(search="1_1"))] == []  # "151" must not match
    assert [row["id"] for row in page_events(db, EventFilter(search="mark"))] == []  # words, not parts of words
    assert [row["id"] for row in page_events(db, EventFilter(search="mark*"))] == [3]
    assert count_events(db, EventFilter(search="151 777")) == 1
    # Nothing to look for: no letter, no digit.
    assert page_events(db, EventFilter(search="%")) == []
    assert count_events(db, EventFilter(search='" *')) == 0


def test_search_sees_every_stored_event_not_only_the_newest(db) -> None:
    _store(db, 0, extra={"note": "quokka"}, at="2026-09-01T00:00:00+00:00")
    with db.atomic():  # one statement: the full-text index takes many rows at once far faster than one by one
        db.execute(
            """
            with recursive n(i) as (select 1 union all select i + 1 from n where i < 30000)
            insert into events (dedupe_key, event_type, kind, raw_body, received_at)
            select 'k' || i, 't', 'o', json_object('note', 'filler ' || i), '2026-11-20T00:00:00+00:00' from n
            """
        )
    assert [row["id"] for row in page_events(db, EventFilter(search="quokka"))] == [1]
    assert count_events(db, EventFilter(search="filler")) == 10_000
    assert count_events(db, EventFilter(search="quokka", since="2026-10-01T00:00:00+00:00")) == 0


@pytest.mark.parametrize("typed", ["+31 6 3439217", "3163439217", "+3163439217", "31-6-343 92 17", "(31) 63439217"])
def test_a_phone_number_is_found_by_its_digits_in_any_spelling(db, typed: str) -> None:
    _store(db, 1, "account_violation", extra={"phone_number": "+31 6 3439217"})
    _store(db, 2, "account_restriction", extra={"phone_number": "3163439217"})
    _store(db, 3, extra={"setup_info": {"phone_number": "+3163439217"}})
    _store(db, 4, extra={"setup_info": {"phone_number": "+31 6 3439218"}})
    _store(db, 5, extra={"waba_id": 3163439217})
    assert [row["id"] for row in page_events(db, EventFilter(search=typed))] == [5, 3, 2, 1]


def test_search_combines_with_every_other_filter_and_pages(db) -> None:
    for index in range(12):
        _store(
            db,
            index,
            "channel_created" if index % 2 else "channel_ready",
            channel=f"ch{index % 3}",
            client=f"cl{index % 2}",
            extra={"note": "needle" if index % 4 else "hay"},
        )

    def ids(**kwargs):
        return [row["id"] for row in page_events(db, EventFilter(search="needle", **kwargs))]

    assert ids() == [12, 11, 10, 8, 7, 6, 4, 3, 2]
    assert ids(event_type="channel_created") == [12, 10, 8, 6, 4, 2]
    assert ids(channel_id="ch1") == [11, 8, 2]
    assert ids(client_id="cl0") == [11, 7, 3]
    assert ids(since="2026-11-20T00:05:00+00:00") == [12, 11, 10, 8, 7, 6]
    assert ids(until="2026-11-20T00:03:00+00:00") == [3, 2]
    assert ids(verdict="ok") == ids()
    assert ids(verdict="valid") == []
    first = page_events(db, EventFilter(search="needle"), limit=4)
    rest = page_events(db, EventFilter(search="needle"), limit=4, before=(first[-1]["received_at"], first[-1]["id"]))
    assert [row["id"] for row in first + rest] == [12, 11, 10, 8, 7, 6, 4, 3]
    assert count_events(db, EventFilter(search="needle", channel_id="ch1")) == 3
    rows = list(csv.DictReader(io.StringIO(events_csv(db, EventFilter(search="needle", event_type="channel_ready")))))
    assert [row["id"] for row in rows] == ["11", "7", "3"]


def test_signature_verdict_filter_and_the_verdicts_there_are(db) -> None:
    assert signature_verdicts(db) == []
    for index, verdict in enumerate(["valid", "not checked", "valid (base64)", "valid"]):
        body = {"id": f"ev{index}", "event": "channel_created", "data": {"id": "a"}}
        with db.atomic():
            save_event(db, normalise_event(body), headers={}, verdict=verdict, received_at=f"2026-11-20T0{index}")
    assert signature_verdicts(db) == ["not checked", "valid", "valid (base64)"]
    assert [row["id"] for row in page_events(db, EventFilter(verdict="valid"))] == [4, 1]
    assert [row["events"] for row in events_over_time(db, EventFilter(verdict="not checked"))] == [1]


def test_counts_stop_at_the_cap(db) -> None:
    for index in range(12):
        _store(db, index)
    assert count_events(db, EventFilter()) == 12
    assert count_events(db, EventFilter(), cap=5) == 5


def test_duplicates_stay_one_row_with_their_count(db) -> None:
    event = normalise_event({"id": "same", "event": "channel_created", "data": {"id": "a"}})
    for _ in range(3):
        save_events(db, [event], headers={}, verdict="ok")
    rows = page_events(db, EventFilter())
    assert len(rows) == 1
    assert rows[0]["duplicate_count"] == 2
    assert [row["events"] for row in events_over_time(db, EventFilter())] == [1], "a duplicate is not a new event"


def test_hourly_chart_comes_from_the_trigger_and_matches_a_scan(db) -> None:
    _store(db, 1, "channel_created", at="2026-11-20T01:10:00+00:00")
    _store(db, 2, "channel_created", at="2026-11-20T01:50:00+00:00")
    _store(db, 3, "channel_ready", at="2026-11-20T02:05:00+00:00")
    from_counts = events_over_time(db, EventFilter())
    assert from_counts == [
        {"bucket": "2026-11-20T01", "event_type": "channel_created", "events": 2},
        {"bucket": "2026-11-20T02", "event_type": "channel_ready", "events": 1},
    ]
    scanned = events_over_time(db, EventFilter(client_id="cl1CL"))
    assert scanned == from_counts
    assert events_over_time(db, EventFilter(event_type="channel_ready")) == from_counts[1:]
    assert event_types(db) == ["channel_created", "channel_ready"]


def test_chart_buckets_are_minutes_hours_or_days(db) -> None:
    _store(db, 1, "channel_created", at="2026-11-20T01:10:05+00:00")
    _store(db, 2, "channel_created", at="2026-11-20T01:10:50+00:00")
    _store(db, 3, "channel_ready", at="2026-11-21T02:05:00+00:00")
    minutes = events_over_time(db, EventFilter(), "minute")
    assert [(row["bucket"], row["events"]) for row in minutes] == [("2026-11-20T01:10", 2), ("2026-11-21T02:05", 1)]
    for filter_ in (EventFilter(), EventFilter(search="ev3")):
        days = events_over_time(db, filter_, "day")
        assert all(len(row["bucket"]) == 10 for row in days)
    days = events_over_time(db, EventFilter(), "day")
    assert [(row["bucket"], row["events"]) for row in days] == [("2026-11-20", 2), ("2026-11-21", 1)]
    assert events_over_time(db, EventFilter(channel_id="ch1CH"), "day") == days


def test_one_event_opens_with_payload_headers_and_verdict(db) -> None:
    _store(db, 1)
    event = event_detail(db, 1)
    assert event["payload"]["event"] == "channel_created"
    assert event["headers"] == {"x-360dialog-signature": "abc"}
    assert event["signature_verdict"] == "ok"
    assert event_detail(db, 99) is None


def test_body_that_is_not_json_still_opens(db) -> None:
    with db.atomic():
        db.execute(
            "insert into events (dedupe_key, event_type, kind, raw_body, received_at) values ('k', 't', 'o', '{x', 'z')"
        )
    assert event_detail(db, 1)["payload"] is None


def test_csv_export_holds_the_filtered_view_up_to_the_limit(db) -> None:
    for index in range(5):
        _store(db, index, "channel_created" if index % 2 else "channel_ready")
    rows = list(csv.DictReader(io.StringIO(events_csv(db, EventFilter(event_type="channel_created")))))
    assert [row["id"] for row in rows] == ["4", "2"]
    assert json.loads(rows[0]["raw_body"])["id"] == "ev3"
    limited = list(csv.DictReader(io.StringIO(events_csv(db, EventFilter(), max_rows=2))))
    assert [row["id"] for row in limited] == ["5", "4"]


def test_search_reads_the_full_text_index_newest_first_without_sorting(db) -> None:
    from services.events.store import LIST_COLUMNS, _columns, _matching

    for filter_ in (EventFilter(search="x"), EventFilter(search="x", since="2026", event_type="t")):
        sql, params = _matching(filter_, _columns(LIST_COLUMNS), limit=50)
        plan = " ".join(row["detail"] for row in db.query("explain query plan " + sql, params))
        assert "VIRTUAL TABLE" in plan
        assert "TEMP B-TREE" not in plan
    sql, params = _matching(EventFilter(search="x", channel_id="a"), _columns(LIST_COLUMNS), limit=50)
    plan = " ".join(row["detail"] for row in db.query("explain query plan " + sql, params))
    assert "idx_events_channel_id_received_at" in plan
    assert "TEMP B-TREE" not in plan


def test_list_query_uses_an_index_not_a_table_scan(db) -> None:
    for filter_ in (EventFilter(), EventFilter(event_type="x"), EventFilter(channel_id="a")):
        plan = " ".join(
            row["detail"]
            for row in db.query(
                "explain query plan select id from events"
                + (" where event_type = 'x'" if filter_.event_type else "")
                + (" where channel_id = 'a'" if filter_.channel_id else "")
                + " order by received_at desc, id desc limit 50"
            )
        )
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan
        assert "TEMP B-TREE" not in plan
