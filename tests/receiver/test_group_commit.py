"""Group commit on its own: a batch in one transaction, one bad delivery failing alone, storage failures
refusing the whole batch; and incoming events listed afterwards, oldest first, retried after a fault."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from sqlite_utils import Database

from services.events.store import SaveResult
from services.events.webhook import parse_webhook_body
from services.receiver.group_commit import BatchWriter, DeliveryNotStored, StorageUnavailable, open_writer_db
from services.receiver.stats import Rejection, receiver_health
from tests.support.console import console_db
from tests.support.receiver import event_body, stored_keys_in
from tests.support.writer import TracedOpen, delivery, event, listed, refuse_listing


def test_a_batch_is_stored_in_one_transaction(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    outcomes = writer.store([delivery(event(f"evt-{number}")) for number in range(50)], [])

    assert outcomes == [SaveResult(1, 0)] * 50
    assert len(stored_keys_in(db_path)) == 50
    assert traced.commits == 1


def test_one_bad_delivery_fails_alone_and_the_rest_of_its_batch_is_stored(writer: BatchWriter, db_path: Path):
    broken = dataclasses.replace(event("evt-broken"), event_type=None)  # the events table refuses it

    first, second, third = writer.store(
        [delivery(event("evt-1")), delivery(event("evt-2"), broken), delivery(event("evt-3"))], []
    )

    assert (first, third) == (SaveResult(1, 0), SaveResult(1, 0))
    assert isinstance(second, DeliveryNotStored)
    # evt-2 came in the same delivery as the broken event: neither is stored, so a retry brings both.
    assert stored_keys_in(db_path) == ["id:evt-1", "id:evt-3"]


def test_when_the_database_refuses_the_write_no_delivery_is_acknowledged(writer: BatchWriter, db_path: Path):
    assert writer.store([delivery(event("evt-0"))], []) == [SaveResult(1, 0)]
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("begin immediate")
        outcomes = writer.store([delivery(event(f"evt-{number}")) for number in range(1, 6)], [])
    finally:
        blocker.execute("rollback")
        blocker.close()

    assert len(outcomes) == 5
    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    assert stored_keys_in(db_path) == ["id:evt-0"]
    assert writer.store([delivery(event("evt-1"))], []) == [SaveResult(1, 0)]


def test_rejections_and_counts_are_written_with_the_batch(writer: BatchWriter, db_path: Path):
    rejection = Rejection("2026-01-01T00:00:00+00:00", "203.0.113.9", 401, "missing signature")

    assert writer.store([delivery(event("evt-1"), event("evt-1"))], [rejection]) == [SaveResult(1, 1)]

    with console_db(db_path) as db:
        health = receiver_health(db)
    assert (health.accepted, health.duplicate, health.rejected) == (1, 1, 1)
    assert health.recent_rejections == [
        {"at": "2026-01-01T00:00:00+00:00", "source": "203.0.113.9", "status": 401, "reason": "missing signature"}
    ]
    assert health.last_event_at is not None


def test_last_event_time_or_an_unreachable_database(writer: BatchWriter, db_path: Path):
    assert writer.last_event_at() is None
    writer.store([delivery(event("evt-1"))], [])
    assert writer.last_event_at() is not None
    for path in db_path.parent.glob("console.db*"):
        path.unlink()

    with pytest.raises(StorageUnavailable):
        writer.last_event_at()
    [outcome] = writer.store([delivery(event("evt-2"))], [])
    assert isinstance(outcome, StorageUnavailable)
    assert not db_path.exists()  # never a new, empty database in place of the one that went away


def test_an_unexpected_fault_in_the_writer_still_answers_every_delivery(db_path: Path):
    def broken_open(path: Path, busy_timeout: float) -> Database:
        raise RuntimeError("a bug, not a storage failure")

    outcomes = BatchWriter(db_path, open_db=broken_open).store([delivery(event(f"evt-{n}")) for n in range(3)], [])

    assert len(outcomes) == 3
    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    assert not db_path.exists()


def test_a_full_disk_refuses_the_whole_batch(db_path: Path):
    def nearly_full_disk(path: Path, busy_timeout: float) -> Database:
        db = open_writer_db(path, busy_timeout)
        # SQLite answers SQLITE_FULL, as on a full disk, once the file would have to grow past this.
        pages = db.execute("pragma page_count").fetchone()[0]
        db.execute(f"pragma max_page_count = {pages}")
        return db

    big = [delivery(parse_webhook_body(event_body(f"evt-{n}", note="x" * 3000))[0]) for n in range(20)]
    outcomes = BatchWriter(db_path, open_db=nearly_full_disk).store(big, [])

    assert len(outcomes) == 20
    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    assert "full" in str(outcomes[-1])
    assert stored_keys_in(db_path) == []


# -- incoming events: stored at once, listed afterwards --------------------------------------------------


def test_stored_events_are_incoming_until_indexed_and_duplicates_are_known_meanwhile(writer: BatchWriter, db_path):
    assert writer.store([delivery(event("evt-1")), delivery(event("evt-2"))], []) == [SaveResult(1, 0)] * 2
    assert writer.store([delivery(event("evt-1"))], []) == [SaveResult(0, 1)]

    assert listed(db_path) == []
    assert stored_keys_in(db_path) == ["id:evt-1", "id:evt-2"]
    assert writer.unlisted == 2
    assert writer.last_event_at() is not None

    assert writer.list_batch(10) == 2
    assert writer.unlisted == 0
    assert writer.store([delivery(event("evt-2"))], []) == [SaveResult(0, 1)]  # now a duplicate of a listed one
    assert listed(db_path) == [("id:evt-1", 1), ("id:evt-2", 1)]
    with closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("select id, status from channels").fetchall() == [("ch-1", "pending")]
        assert conn.execute("select count(*) from incoming_events").fetchone() == (0,)


def test_indexing_takes_the_oldest_first_in_bounded_batches(writer: BatchWriter, db_path: Path):
    writer.store([delivery(event(f"evt-{number}")) for number in range(25)], [])

    assert writer.list_batch(10) == 10
    assert [key for key, _ in listed(db_path)] == [f"id:evt-{number}" for number in range(10)]
    assert writer.unlisted == 15
    assert writer.list_all(10) == 15
    assert len(listed(db_path)) == 25


def test_when_indexing_fails_the_events_stay_stored_and_are_listed_once_it_works(writer: BatchWriter, db_path):
    writer.store([delivery(event("evt-1"))], [])
    refuse_listing(db_path, True)

    assert writer.list_batch(10) == 0
    assert 0 < writer.seconds_until_listing_retry <= 1.0
    assert writer.store([delivery(event("evt-2"))], []) == [SaveResult(1, 0)]  # deliveries are still taken
    assert writer.list_batch(10) == 0  # and the retry waits its turn
    assert stored_keys_in(db_path) == ["id:evt-1", "id:evt-2"]
    assert listed(db_path) == []

    refuse_listing(db_path, False)
    time.sleep(writer.seconds_until_listing_retry)
    assert writer.list_all(10) == 2
    assert listed(db_path) == [("id:evt-1", 0), ("id:evt-2", 0)]


def test_a_lasting_indexing_fault_is_retried_less_and_less_often(writer: BatchWriter, db_path: Path):
    writer.store([delivery(event("evt-1"))], [])
    refuse_listing(db_path, True)
    pauses = []
    for _ in range(2):
        writer.list_batch(10)
        pauses.append(writer.seconds_until_listing_retry)
        time.sleep(pauses[-1])

    writer.list_batch(10)
    pauses.append(writer.seconds_until_listing_retry)

    assert pauses[0] <= 1.0 < pauses[1] <= 2.0 < pauses[2] <= 4.0


def test_the_writer_keeps_statement_journals_and_temporary_tables_in_memory(db_path: Path):
    db = open_writer_db(db_path, 1.0)
    try:
        temp_store = db.execute("PRAGMA temp_store").fetchone()[0]
        synchronous = db.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        db.close()

    assert temp_store == 2  # MEMORY: no system call per page a statement changes
    assert synchronous == 2  # FULL still: an acknowledged event survives a power cut
