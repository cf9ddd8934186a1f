"""The group-commit writer on its own: batching, one bad delivery, storage failures, draining on close."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from sqlite_utils import Database

from services.events import SaveResult
from services.receiver_stats import Rejection, receiver_health
from services.receiver_writer import DeliveryNotStored, GroupCommitWriter, StorageUnavailable, open_writer_db
from services.store import open_console_db
from services.webhook_events import WebhookEvent, parse_webhook_body
from tests.receiver_harness import event_body


def event(event_id: str) -> WebhookEvent:
    return parse_webhook_body(event_body(event_id))[0]


def stored_keys(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [key for (key,) in conn.execute("select dedupe_key from events order by id")]


class GatedOpen:
    """Opens the writer's database only once the gate is set, so that deliveries pile up into one batch."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.statements: list[str] = []

    def __call__(self, path: Path, busy_timeout: float) -> Database:
        assert self.gate.wait(10)
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
def gated() -> GatedOpen:
    return GatedOpen()


@pytest.fixture
def writer(db_path: Path, gated: GatedOpen) -> Iterator[GroupCommitWriter]:
    writer = GroupCommitWriter(db_path, busy_timeout_seconds=0.2, open_db=gated)
    yield writer
    gated.gate.set()
    writer.close(timeout=10)


def run(make_awaitable: Callable[[], object]) -> object:
    """Run on a fresh event loop; the awaitable is made inside it, as the receiver's requests make theirs."""

    async def main() -> object:
        return await asyncio.wait_for(make_awaitable(), timeout=30)

    # Its own thread: Playwright's sync API may hold a running loop in the main thread of this test session.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_concurrent_deliveries_share_one_commit(writer: GroupCommitWriter, gated: GatedOpen, db_path: Path):
    async def deliver_fifty() -> list[SaveResult]:
        futures = [writer.submit([event(f"evt-{number}")], {}, "valid") for number in range(50)]
        gated.gate.set()
        return await asyncio.gather(*futures)

    results = run(deliver_fifty)

    assert results == [SaveResult(1, 0)] * 50
    assert len(stored_keys(db_path)) == 50
    # The first delivery may have been taken alone before the others were queued; the rest go together.
    assert gated.commits <= 2


def test_one_bad_delivery_fails_alone_and_the_rest_of_its_batch_is_stored(
    writer: GroupCommitWriter, gated: GatedOpen, db_path: Path
):
    broken = dataclasses.replace(event("evt-broken"), event_type=None)  # the events table refuses it

    async def deliver() -> list[object]:
        futures = [
            writer.submit([event("evt-1")], {}, "valid"),
            writer.submit([event("evt-2"), broken], {}, "valid"),
            writer.submit([event("evt-3")], {}, "valid"),
        ]
        gated.gate.set()
        return await asyncio.gather(*futures, return_exceptions=True)

    first, second, third = run(deliver)

    assert (first, third) == (SaveResult(1, 0), SaveResult(1, 0))
    assert isinstance(second, DeliveryNotStored)
    # evt-2 came in the same delivery as the broken event: neither is stored, so a retry brings both.
    assert stored_keys(db_path) == ["id:evt-1", "id:evt-3"]


def test_when_the_database_refuses_the_write_no_delivery_is_acknowledged(
    writer: GroupCommitWriter, gated: GatedOpen, db_path: Path
):
    gated.gate.set()
    run(lambda: writer.submit([event("evt-0")], {}, "valid"))
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("begin immediate")

        async def deliver() -> list[object]:
            futures = [writer.submit([event(f"evt-{number}")], {}, "valid") for number in range(1, 6)]
            return await asyncio.gather(*futures, return_exceptions=True)

        outcomes = run(deliver)
    finally:
        blocker.execute("rollback")
        blocker.close()

    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    assert stored_keys(db_path) == ["id:evt-0"]
    assert run(lambda: writer.submit([event("evt-1")], {}, "valid")) == SaveResult(1, 0)


def test_close_commits_and_answers_what_is_queued_then_refuses_more(
    writer: GroupCommitWriter, gated: GatedOpen, db_path: Path
):
    async def deliver_then_close() -> tuple[list[SaveResult], BaseException | None]:
        futures = [writer.submit([event(f"evt-{number}")], {}, "valid") for number in range(20)]
        closing_down = asyncio.create_task(asyncio.to_thread(writer.close))
        await asyncio.sleep(0.05)
        gated.gate.set()
        results = await asyncio.gather(*futures)
        await closing_down
        try:
            await writer.submit([event("evt-late")], {}, "valid")
        except StorageUnavailable as error:
            return results, error
        return results, None

    results, late_error = run(deliver_then_close)

    assert results == [SaveResult(1, 0)] * 20
    assert isinstance(late_error, StorageUnavailable)
    assert len(stored_keys(db_path)) == 20


def test_rejections_and_counts_are_written_with_the_batch(writer: GroupCommitWriter, gated: GatedOpen, db_path: Path):
    async def deliver() -> object:
        writer.reject(Rejection("2026-01-01T00:00:00+00:00", "203.0.113.9", 401, "missing signature"))
        future = writer.submit([event("evt-1"), event("evt-1")], {}, "valid")
        gated.gate.set()
        return await future

    assert run(deliver) == SaveResult(1, 1)
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


def test_probe_reports_the_last_event_or_an_unreachable_database(
    writer: GroupCommitWriter, gated: GatedOpen, db_path: Path
):
    gated.gate.set()
    assert run(writer.probe) is None
    run(lambda: writer.submit([event("evt-1")], {}, "valid"))
    assert run(writer.probe) is not None
    for path in db_path.parent.glob("console.db*"):
        path.unlink()

    with pytest.raises(StorageUnavailable):
        run(writer.probe)
    with pytest.raises(StorageUnavailable):
        run(lambda: writer.submit([event("evt-2")], {}, "valid"))


def test_past_the_waiting_limit_a_delivery_is_refused_at_once(db_path: Path, gated: GatedOpen):
    writer = GroupCommitWriter(db_path, busy_timeout_seconds=0.2, max_waiting=3, open_db=gated)
    try:

        async def deliver() -> list[object]:
            futures = [writer.submit([event(f"evt-{number}")], {}, "valid") for number in range(5)]
            refused = [future.exception() for future in futures[3:]]  # already settled: nothing to wait for
            gated.gate.set()
            return [*await asyncio.gather(*futures[:3]), *refused]

        outcomes = run(deliver)
        assert outcomes[:3] == [SaveResult(1, 0)] * 3
        assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes[3:])
        # Once answered, the waiting places are free again.
        assert run(lambda: writer.submit([event("evt-9")], {}, "valid")) == SaveResult(1, 0)
    finally:
        gated.gate.set()
        writer.close(timeout=10)
    assert stored_keys(db_path) == ["id:evt-0", "id:evt-1", "id:evt-2", "id:evt-9"]


def test_an_unexpected_fault_in_the_writer_still_answers_every_delivery(db_path: Path):
    def broken_open(path: Path, busy_timeout: float) -> Database:
        raise RuntimeError("a bug, not a storage failure")

    writer = GroupCommitWriter(db_path, open_db=broken_open)
    try:

        async def deliver() -> list[object]:
            futures = [writer.submit([event(f"evt-{number}")], {}, "valid") for number in range(3)]
            return await asyncio.gather(*futures, return_exceptions=True)

        outcomes = run(deliver)
    finally:
        writer.close(timeout=10)
    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    assert not db_path.exists()


def test_a_full_disk_refuses_the_whole_batch(db_path: Path):
    def nearly_full_disk(path: Path, busy_timeout: float) -> Database:
        db = open_writer_db(path, busy_timeout)
        # SQLite answers SQLITE_FULL, as on a full disk, once the file would have to grow past this.
        pages = db.execute("pragma page_count").fetchone()[0]
        db.execute(f"pragma max_page_count = {pages}")
        return db

    writer = GroupCommitWriter(db_path, open_db=nearly_full_disk)
    try:

        async def deliver() -> list[object]:
            big = [parse_webhook_body(event_body(f"evt-{n}", note="x" * 3000))[0] for n in range(20)]
            futures = [writer.submit([item], {}, "valid") for item in big]
            return await asyncio.gather(*futures, return_exceptions=True)

        outcomes = run(deliver)
    finally:
        writer.close(timeout=10)
    assert outcomes
    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    assert "full" in str(outcomes[-1])
    assert stored_keys(db_path) == []
