"""The writer on its own: batches, one bad delivery, storage failures; and the writer process around it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from sqlite_utils import Database

from services.events.store import SaveResult
from services.events.webhook import MalformedWebhook, WebhookEvent, parse_webhook_body
from services.receiver.frames import StoredDelivery
from services.receiver.group_commit import BatchWriter, Delivery, DeliveryNotStored, StorageUnavailable, open_writer_db
from services.receiver.stats import Rejection, receiver_health
from services.receiver.writer import WriterProcess
from services.receiver.writer_main import answer_messages
from services.store import open_console_db
from tests.receiver_harness import event_body, stored_keys_in, wait_until_listed


def event(event_id: str) -> WebhookEvent:
    return parse_webhook_body(event_body(event_id))[0]


def delivery(*events: WebhookEvent) -> Delivery:
    return Delivery(list(events), {"content-type": "application/json"}, "valid")


def stored_keys(path: Path) -> list[str]:
    return stored_keys_in(path)


class TracedOpen:
    """Opens the writer's database and records every statement it runs, to count commits."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, path: Path, busy_timeout: float) -> Database:
        db = open_writer_db(path, busy_timeout)
        db.conn.set_trace_callback(self.statements.append)
        return db

    @property
    def commits(self) -> int:
        return sum(1 for statement in self.statements if statement.strip().upper() == "COMMIT")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "console.db"


@pytest.fixture
def traced() -> TracedOpen:
    return TracedOpen()


@pytest.fixture
def writer(db_path: Path, traced: TracedOpen) -> BatchWriter:
    writer = BatchWriter(db_path, busy_timeout_seconds=0.2, open_db=traced)
    yield writer
    writer.close()


# -- the batch writer ------------------------------------------------------------------------------------


def test_a_batch_is_stored_in_one_transaction(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    outcomes = writer.store([delivery(event(f"evt-{number}")) for number in range(50)], [])

    assert outcomes == [SaveResult(1, 0)] * 50
    assert len(stored_keys(db_path)) == 50
    assert traced.commits == 1


def test_one_bad_delivery_fails_alone_and_the_rest_of_its_batch_is_stored(writer: BatchWriter, db_path: Path):
    broken = dataclasses.replace(event("evt-broken"), event_type=None)  # the events table refuses it

    first, second, third = writer.store(
        [delivery(event("evt-1")), delivery(event("evt-2"), broken), delivery(event("evt-3"))], []
    )

    assert (first, third) == (SaveResult(1, 0), SaveResult(1, 0))
    assert isinstance(second, DeliveryNotStored)
    # evt-2 came in the same delivery as the broken event: neither is stored, so a retry brings both.
    assert stored_keys(db_path) == ["id:evt-1", "id:evt-3"]


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
    assert stored_keys(db_path) == ["id:evt-0"]
    assert writer.store([delivery(event("evt-1"))], []) == [SaveResult(1, 0)]


def test_rejections_and_counts_are_written_with_the_batch(writer: BatchWriter, db_path: Path):
    rejection = Rejection("2026-01-01T00:00:00+00:00", "203.0.113.9", 401, "missing signature")

    assert writer.store([delivery(event("evt-1"), event("evt-1"))], [rejection]) == [SaveResult(1, 1)]

    db = open_console_db(db_path)
    try:
        health = receiver_health(db)
    finally:
        db.close()
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
    assert stored_keys(db_path) == []


# -- what the writer process does with the messages that arrived together --------------------------------


def test_the_messages_that_arrived_together_share_one_commit(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    messages = [("deliver", number, event_body(f"evt-{number}"), {}, "valid") for number in range(40)]
    messages.append(("reject", "2026-01-01T00:00:00+00:00", "203.0.113.9", 401, "missing signature"))
    messages.append(("probe", 99))

    answers = answer_messages(writer, messages)

    assert traced.commits == 1
    assert len(stored_keys(db_path)) == 40
    assert answers[:40] == [(number, "stored", (1, 0, "channel_created", 1)) for number in range(40)]
    assert answers[40][:2] == (99, "probe")
    assert answers[40][2] is not None


def test_a_malformed_body_is_answered_as_such_and_the_rest_is_stored(writer: BatchWriter, db_path: Path):
    messages = [
        ("deliver", 1, event_body("evt-1"), {}, "valid"),
        ("deliver", 2, b"{not json", {}, "valid"),
        ("deliver", 3, event_body("evt-3"), {}, "valid"),
    ]

    answers = answer_messages(writer, messages)

    assert sorted(answers) == [
        (1, "stored", (1, 0, "channel_created", 1)),
        (2, "malformed", "body is not JSON"),
        (3, "stored", (1, 0, "channel_created", 1)),
    ]
    assert stored_keys(db_path) == ["id:evt-1", "id:evt-3"]


def test_a_large_arrival_is_split_into_bounded_transactions(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    messages = [("deliver", number, event_body(f"evt-{number}"), {}, "valid") for number in range(25)]

    answers = answer_messages(writer, messages, max_batch_events=10)

    assert traced.commits == 3
    assert [kind for _, kind, _ in answers] == ["stored"] * 25
    assert len(stored_keys(db_path)) == 25


# -- the writer process, for real -------------------------------------------------------------------------


def run(scenario: Callable[[], Awaitable[object]]) -> object:
    """Run on a fresh event loop, in its own thread: Playwright's sync API may hold a loop in this one."""

    async def main() -> object:
        return await asyncio.wait_for(scenario(), timeout=60)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_deliveries_are_answered_once_committed_and_close_drains_the_rest(db_path: Path):
    async def scenario() -> tuple[list[object], BaseException | None]:
        writer = WriterProcess(db_path, busy_timeout_seconds=0.5)
        await writer.start()
        futures = [writer.submit(event_body(f"evt-{number}"), {}, "valid") for number in range(20)]
        futures.append(writer.submit(b"[]", {}, "valid"))
        await writer.close()  # right away: what was sent is still stored and answered
        answers = await asyncio.gather(*futures, return_exceptions=True)
        try:
            await writer.submit(event_body("evt-late"), {}, "valid")
        except StorageUnavailable as error:
            return answers, error
        return answers, None

    answers, late_error = run(scenario)

    assert answers[:20] == [StoredDelivery(1, 0, "channel_created", 1)] * 20
    assert isinstance(answers[20], MalformedWebhook)
    assert isinstance(late_error, StorageUnavailable)
    assert len(stored_keys(db_path)) == 20


def test_past_the_waiting_limit_a_delivery_is_refused_at_once(db_path: Path):
    async def scenario() -> list[object]:
        writer = WriterProcess(db_path, max_waiting=3)
        await writer.start()
        try:
            futures = [writer.submit(event_body(f"evt-{number}"), {}, "valid") for number in range(5)]
            refused = [future.exception() for future in futures[3:]]  # already settled: nothing to wait for
            answered = await asyncio.gather(*futures[:3])
            # Once answered, the waiting places are free again.
            again = await writer.submit(event_body("evt-9"), {}, "valid")
            return [*answered, *refused, again]
        finally:
            await writer.close()

    outcomes = run(scenario)

    assert outcomes[:3] == [StoredDelivery(1, 0, "channel_created", 1)] * 3
    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes[3:5])
    assert outcomes[5] == StoredDelivery(1, 0, "channel_created", 1)
    assert stored_keys(db_path) == ["id:evt-0", "id:evt-1", "id:evt-2", "id:evt-9"]


def test_a_writer_process_that_dies_fails_what_waits_and_is_started_again(db_path: Path):
    async def scenario() -> tuple[object, object, object]:
        writer = WriterProcess(db_path)
        await writer.start()
        try:
            first = await writer.submit(event_body("evt-1"), {}, "valid")
            os.kill(writer.pid, signal.SIGKILL)
            try:
                during = await writer.submit(event_body("evt-2"), {}, "valid")
            except StorageUnavailable as error:
                during = error
            for _ in range(200):  # the restarted child answers the probe once it is up
                try:
                    await writer.probe()
                    break
                except StorageUnavailable:
                    await asyncio.sleep(0.05)
            after = await writer.submit(event_body("evt-3"), {}, "valid")
            return first, during, after
        finally:
            await writer.close()

    first, during, after = run(scenario)

    assert first == after == StoredDelivery(1, 0, "channel_created", 1)
    assert isinstance(during, StorageUnavailable)
    assert stored_keys(db_path) == ["id:evt-1", "id:evt-3"]


# -- incoming events: stored at once, listed (listed) afterwards -----------------------------------------


def listed(path: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("select dedupe_key, duplicate_count from events order by id").fetchall()


def test_stored_events_are_incoming_until_indexed_and_duplicates_are_known_meanwhile(writer: BatchWriter, db_path):
    assert writer.store([delivery(event("evt-1")), delivery(event("evt-2"))], []) == [SaveResult(1, 0)] * 2
    assert writer.store([delivery(event("evt-1"))], []) == [SaveResult(0, 1)]

    assert listed(db_path) == []
    assert stored_keys(db_path) == ["id:evt-1", "id:evt-2"]
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


def refuse_listing(path: Path, refuse: bool) -> None:
    """Make every insert into the events table fail (a stand-in for any fault while listing), or stop that."""
    with closing(sqlite3.connect(path)) as conn:
        if refuse:
            conn.execute("create trigger refuse before insert on events begin select raise(abort, 'refused'); end")
        else:
            conn.execute("drop trigger refuse")
        conn.commit()


def test_when_indexing_fails_the_events_stay_stored_and_are_listed_once_it_works(writer: BatchWriter, db_path):
    writer.store([delivery(event("evt-1"))], [])
    refuse_listing(db_path, True)

    assert writer.list_batch(10) == 0
    assert 0 < writer.seconds_until_listing_retry <= 1.0
    assert writer.store([delivery(event("evt-2"))], []) == [SaveResult(1, 0)]  # deliveries are still taken
    assert writer.list_batch(10) == 0  # and the retry waits its turn
    assert stored_keys(db_path) == ["id:evt-1", "id:evt-2"]
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


def test_the_writer_process_retries_failed_listing_without_waiting_for_deliveries(db_path: Path):
    async def scenario() -> object:
        writer = WriterProcess(db_path)
        await writer.start()
        try:
            await writer.probe()  # up, with its tables made
            refuse_listing(db_path, True)
            answer = await writer.submit(event_body("evt-1"), {}, "valid")
            await asyncio.sleep(0.1)  # a calm moment: it tries to list, and fails
            refuse_listing(db_path, False)
            await asyncio.to_thread(wait_until_listed, db_path, 5.0)  # the retry a second later succeeds
            return answer
        finally:
            await writer.close()

    assert run(scenario) == StoredDelivery(1, 0, "channel_created", 1)
    assert listed(db_path) == [("id:evt-1", 0)]


def test_events_a_killed_writer_left_incoming_are_listed_by_the_next_one(db_path: Path):
    # As a writer killed between acknowledging and listing leaves them.
    earlier = BatchWriter(db_path)
    earlier.store([delivery(event("evt-1")), delivery(event("evt-2"))], [])
    earlier.close()
    assert listed(db_path) == []

    async def scenario() -> None:
        writer = WriterProcess(db_path)
        await writer.start()
        try:
            await asyncio.to_thread(wait_until_listed, db_path)
        finally:
            await writer.close()

    run(scenario)

    assert listed(db_path) == [("id:evt-1", 0), ("id:evt-2", 0)]


def test_a_large_backlog_to_list_does_not_hold_up_new_deliveries(db_path: Path):
    earlier = BatchWriter(db_path)
    earlier.store([delivery(event(f"evt-{number}")) for number in range(3000)], [])
    earlier.close()

    async def scenario() -> tuple[object, int]:
        writer = WriterProcess(db_path, listing_batch_events=50)
        await writer.start()
        try:
            answer = await writer.submit(event_body("evt-new"), {}, "valid")
            with closing(sqlite3.connect(db_path)) as conn:
                still_incoming = conn.execute("select count(*) from incoming_events").fetchone()[0]
            await asyncio.to_thread(wait_until_listed, db_path, 30.0)
            return answer, still_incoming
        finally:
            await writer.close()

    answer, still_incoming = run(scenario)

    assert answer == StoredDelivery(1, 0, "channel_created", 1)
    assert still_incoming > 2000  # answered after one batch of the backlog was listed, not after all of it
    assert len(listed(db_path)) == 3001


def test_a_burst_is_answered_and_listed_soon_after_it_ends(db_path: Path):
    async def scenario() -> tuple[list[object], int]:
        writer = WriterProcess(db_path)
        await writer.start()
        try:
            futures = [writer.submit(event_body(f"evt-{number}"), {}, "valid") for number in range(600)]
            answers = await asyncio.gather(*futures)
            await asyncio.to_thread(wait_until_listed, db_path, 10.0)
            return answers, len(listed(db_path))
        finally:
            await writer.close()

    answers, listed_after_the_burst = run(scenario)

    assert answers == [StoredDelivery(1, 0, "channel_created", 1)] * 600
    assert listed_after_the_burst == 600
