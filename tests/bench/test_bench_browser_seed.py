"""The browser benchmark's data: the sizes it claims, a funnel with work for the queue, and the oldest event, older
than 50 days, found by the word only it holds; seeded once per size, and a run's copy leaves the cache as it was."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from bench.browser_seed import CONSOLE_DB, OLD_WORD, Sizes, cached_seed, copy_seed
from services.events.store import EventFilter, count_events, page_events
from services.read_models.channel_list import ChannelFilter, count_channels
from services.read_models.clients import count_clients
from services.store import open_console_db

SIZES = Sizes(channels=300, clients=40, events=3000)


def _one(db, sql: str) -> int:
    return db.execute(sql).fetchone()[0]


def test_the_seeded_console_holds_what_it_claims(tmp_path) -> None:
    folder = cached_seed(SIZES, tmp_path, say=False)
    with contextlib.closing(open_console_db(folder / CONSOLE_DB)) as db:
        assert (db["channels"].count, db["clients"].count, db["events"].count) == (300, 40, 3000)
        assert _one(db, "select count(*) from channels where phone_number not glob '+[1-9]*'") == 0
        assert _one(db, "select count(distinct status) from channels") == 5
        # What the work queue shows: stuck onboardings, running without a key, a key not ready, quality RED.
        hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        assert _one(db, f"select count(*) from channels where status != 'running' and status_changed_at < '{hour_ago}'")
        assert _one(
            db,
            "select count(*) from channels c where status = 'running' and not exists"
            " (select 1 from api_keys k where k.channel_id = c.id)",
        )
        assert _one(
            db, "select count(*) from api_keys k where (select count(*) from key_steps s where s.key_id = k.id) < 3"
        )
        assert _one(db, "select count(*) from channels where quality_rating = 'RED'")
        # Every event names a real type, and its hourly count and full-text index were built.
        assert _one(db, "select sum(events) from event_hours") == 3000
        assert _one(db, "select count(*) from events where event_type not in ('channel_created', 'channel_submitted',"
                        " 'channel_live', 'channel_status_running', 'phone_number_quality_changed',"
                        " 'waba_template_status_changed', 'account_violation', 'client_created')") == 0  # fmt: skip
        (oldest,) = page_events(db, EventFilter(search=OLD_WORD))
        assert datetime.fromisoformat(oldest["received_at"]) < datetime.now(UTC) - timedelta(days=50)
        assert count_events(db, EventFilter(search=OLD_WORD)) == 1
        # A word only the bodies hold (no name, no id): found through the full-text index alone.
        violations = _one(db, "select count(*) from events where event_type = 'account_violation'")
        assert violations
        assert count_events(db, EventFilter(search="SPAM")) == violations
        # The channels' and clients' searches find the seeded names.
        assert count_clients(db, OLD_WORD) == 1
        assert count_channels(db, ChannelFilter(search="+49 151 0000 0000")) == 1
        # The triggers set aside while seeding are back: a new event is indexed and counted.
        db["events"].insert(
            {
                "dedupe_key": "id:new",
                "event_type": "client_created",
                "kind": "client_created",
                "raw_body": '{"note": "wombat"}',
                "received_at": datetime.now(UTC).isoformat(),
            }
        )
        assert count_events(db, EventFilter(search="wombat")) == 1
        assert _one(db, "select sum(events) from event_hours") == 3001


def test_a_run_copies_the_cached_seed_and_leaves_it_unchanged(tmp_path) -> None:
    folder = cached_seed(SIZES, tmp_path, say=False)
    before = (folder / CONSOLE_DB).stat().st_mtime_ns
    assert cached_seed(SIZES, tmp_path, say=False) == folder  # not seeded again
    copy_seed(folder, tmp_path / "run")
    with contextlib.closing(open_console_db(tmp_path / "run" / CONSOLE_DB)) as db:
        db.execute("delete from channels")
        db.conn.commit()
    assert (folder / CONSOLE_DB).stat().st_mtime_ns == before
    with contextlib.closing(open_console_db(folder / CONSOLE_DB)) as db:
        assert db["channels"].count == 300
