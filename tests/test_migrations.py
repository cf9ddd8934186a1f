"""The views migration backfills its counters from data stored before it, then keeps them up to date."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database

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
