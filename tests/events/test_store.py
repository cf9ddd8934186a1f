"""Reading events back: filters, keyset pages, capped counts, search, hourly chart, CSV, one event opened."""

from __future__ import annotations

import csv
import io
import json

from services.events.store import (
    EventFilter,
    count_events,
    event_detail,
    event_types,
    events_csv,
    events_per_hour,
    page_events,
    save_event,
    save_events,
)
from services.events.webhook import normalise_event


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


def test_search_looks_inside_payloads_and_treats_wildcards_literally(db) -> None:
    _store(db, 1, extra={"setup_info": {"phone_number": "+49 151 777"}})
    _store(db, 2, extra={"note": "100% sure"})
    _store(db, 3)
    assert [row["id"] for row in page_events(db, EventFilter(search="151 777"))] == [1]
    assert [row["id"] for row in page_events(db, EventFilter(search="100%"))] == [2]
    assert page_events(db, EventFilter(search="%")) != []
    assert [row["id"] for row in page_events(db, EventFilter(search="1_1"))] == []  # "151" must not match
    assert count_events(db, EventFilter(search="151 777")) == 1


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
    assert [row["events"] for row in events_per_hour(db, EventFilter())] == [1], "a duplicate is not a new event"


def test_hourly_chart_comes_from_the_trigger_and_matches_a_scan(db) -> None:
    _store(db, 1, "channel_created", at="2026-11-20T01:10:00+00:00")
    _store(db, 2, "channel_created", at="2026-11-20T01:50:00+00:00")
    _store(db, 3, "channel_ready", at="2026-11-20T02:05:00+00:00")
    from_counts = events_per_hour(db, EventFilter())
    assert from_counts == [
        {"hour": "2026-11-20T01", "event_type": "channel_created", "events": 2},
        {"hour": "2026-11-20T02", "event_type": "channel_ready", "events": 1},
    ]
    scanned = events_per_hour(db, EventFilter(client_id="cl1CL"))
    assert scanned == from_counts
    assert events_per_hour(db, EventFilter(event_type="channel_ready")) == from_counts[1:]
    assert event_types(db) == ["channel_created", "channel_ready"]


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
