"""The writer as a process of its own, for real: answered once committed, a waiting limit, restarted when it
dies, listing retried and caught up, a backlog that does not hold up new deliveries."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from services.events.webhook import MalformedWebhook
from services.receiver.frames import StoredDelivery
from services.receiver.group_commit import BatchWriter, StorageUnavailable
from services.receiver.writer import WriterProcess
from tests.support.receiver import event_body, stored_keys_in, wait_until_listed
from tests.support.writer import delivery, event, listed, refuse_listing, run

pytestmark = pytest.mark.processes


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
    assert len(stored_keys_in(db_path)) == 20


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
    assert stored_keys_in(db_path) == ["id:evt-0", "id:evt-1", "id:evt-2", "id:evt-9"]


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
    assert stored_keys_in(db_path) == ["id:evt-1", "id:evt-3"]


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
