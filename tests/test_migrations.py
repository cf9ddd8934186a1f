"""Migrations that backfill what they add from data stored before them: hourly counts and channel stages, the
events' full-text index."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database

from services.events.store import EventFilter, page_events
from services.migrations import console_migrations


def test_backfill_of_hourly_events_and_channel_stages(tmp_path) -> None:
    db = Database(sqlite3.connect(str(tmp_path / "old.db")))
    try:
        console_migrations.apply(db, stop_before="m020_views_and_keys_issue6")
        with db.atomic():
            db["events"].insert_all(
                [
                    {
                        "dedupe_key": f"k{i}",
                        "event_type": "t",
                        "kind": "o",
                        "raw_body": "{}",
                        "received_at": f"2026-11-20T0{i % 2}:00:00+00:00",
                    }
                    for i in range(5)
                ]
            )
            db["channels"].insert_all([{"id": "a", "status": "running"}, {"id": "b", "status": None}])
        console_migrations.apply(db)
        hours = {row["hour"]: row["events"] for row in db.query("select * from event_hours")}
        assert hours == {"2026-11-20T00": 3, "2026-11-20T01": 2}
        stages = {row["status"]: row["channels"] for row in db.query("select * from channel_stages")}
        assert stages == {"running": 1, "unknown": 1}
    finally:
        db.close()


def test_lookups_by_status_still_use_an_index_after_the_plain_one_is_dropped(tmp_path) -> None:
    db = Database(sqlite3.connect(str(tmp_path / "console.db")))
    try:
        console_migrations.apply(db)
        indexes = {row["name"] for row in db.query("select name from sqlite_master where type = 'index'")}
        plan = " ".join(
            row["detail"]
            for row in db.query("explain query plan select id from channels where status = ?", ["running"])
        )
    finally:
        db.close()
    assert "idx_channels_status" not in indexes
    assert "USING INDEX idx_channels_status_" in plan or "USING COVERING INDEX idx_channels_status_" in plan


def test_events_stored_before_the_full_text_index_are_found_and_new_ones_follow(tmp_path) -> None:
    db = Database(sqlite3.connect(str(tmp_path / "console.db")))
    bodies = ('{"data": {"phone_number": "+31 6 3439217"}}', '{"note": "quokka"}', "not json")
    try:
        console_migrations.apply(db, stop_before="m012_events_full_text_search")
        with db.atomic():
            db["events"].insert_all(
                [
                    {
                        "dedupe_key": f"k{i}",
                        "event_type": "t",
                        "kind": "o",
                        "received_at": f"2026-11-{i + 10}",
                        "raw_body": body,
                    }
                    for i, body in enumerate(bodies)
                ]
            )
        console_migrations.apply(db)
        with db.atomic():
            db["events"].insert(
                {
                    "dedupe_key": "new",
                    "event_type": "t",
                    "kind": "o",
                    "received_at": "2026-11-20",
                    "raw_body": '{"n": "quokka"}',
                }
            )

        def found(text: str) -> list[int]:
            return [row["id"] for row in page_events(db, EventFilter(search=text))]

        assert found("3163439217") == [1]
        assert found("quokka") == [4, 2]
        assert found("json") == [3]
        with db.atomic():
            db.execute("delete from events where id = 2")
        assert found("quokka") == [4]
        db.execute("insert into events_fts (events_fts, rank) values ('integrity-check', 0)")
    finally:
        db.close()
