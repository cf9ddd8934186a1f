"""Group commit for the receiver: one thread owns the database and commits many deliveries at once.

Each request hands its events to the writer and awaits a future. The writer takes everything queued (up to
a bound), stores it in one transaction (one fsync with `synchronous = FULL`), and only then resolves the
futures. If the transaction fails, every delivery in it is told so and none is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from services.events import SaveResult, save_event, save_event_batch
from services.receiver_stats import Rejection, add_to_counters, last_event_at, record_rejections
from services.store import open_console_db, utc_now
from services.webhook_events import WebhookEvent

log = logging.getLogger("receiver.writer")
MAX_BATCH_EVENTS = 1000
# Deliveries waiting for a commit; past this the receiver answers 503 instead of holding more bodies in memory.
MAX_WAITING_DELIVERIES = 5000
DEFAULT_BUSY_TIMEOUT_SECONDS = 3.0


class StorageUnavailable(Exception):
    """The database could not take the write (locked past its timeout, disk full, file gone): retry later."""


class DeliveryNotStored(Exception):
    """This one delivery could not be stored although the database works; the rest of its batch was."""


class _OneDeliveryFailed(Exception):
    """A delivery failed for a reason of its own; the batch is retried with each delivery isolated."""


@dataclass
class _Waiter:
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class _Answers:
    """Answers for one batch, handed to each event loop in one call: one wake-up, not one per request."""

    def __init__(self) -> None:
        self._by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any, BaseException | None]]] = {}

    def add(self, waiter: _Waiter, result: Any = None, error: BaseException | None = None) -> None:
        self._by_loop.setdefault(waiter.loop, []).append((waiter.future, result, error))

    def send(self) -> None:
        for loop, answers in self._by_loop.items():
            # RuntimeError: the loop is gone, so nobody is waiting for these answers any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_all, answers)
        self._by_loop.clear()


def _settle_all(answers: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for future, result, error in answers:
        if future.done():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


@dataclass
class _Delivery:
    events: list[WebhookEvent]
    headers: dict[str, str]
    verdict: str
    waiter: _Waiter


@dataclass
class _Probe:
    waiter: _Waiter


@dataclass
class _Batch:
    deliveries: list[_Delivery] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    probes: list[_Probe] = field(default_factory=list)
    events: int = 0

    def add(self, item: object) -> None:
        if isinstance(item, _Delivery):
            self.deliveries.append(item)
            self.events += len(item.events)
        elif isinstance(item, Rejection):
            self.rejections.append(item)
        else:
            self.probes.append(item)  # type: ignore[arg-type]


_STOP = object()


def open_writer_db(path: Path, busy_timeout_seconds: float) -> Database:
    db = open_console_db(path)
    # Shorter than 360dialog's delivery timeout: a 503 it can retry beats a timeout it cannot read.
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
    return db


class GroupCommitWriter:
    """Owns the receiver's one connection in its own thread; methods are called from the event loop."""

    def __init__(
        self,
        db_path: Path,
        *,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_waiting: int = MAX_WAITING_DELIVERIES,
        open_db: Callable[[Path, float], Database] = open_writer_db,
    ) -> None:
        self._path = Path(db_path)
        self._busy_timeout = busy_timeout_seconds
        self._max_batch_events = max_batch_events
        self._max_waiting = max_waiting
        self._waiting = 0
        self._open_db = open_db
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._db: Database | None = None
        self._file_identity: tuple[int, int] | None = None
        self._created = False

    # -- called from the event loop -------------------------------------------------------------------

    def submit(self, events: list[WebhookEvent], headers: dict[str, str], verdict: str) -> asyncio.Future:
        """A future that resolves to a SaveResult once the events are committed, or fails with the reason."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._closed:
                future.set_exception(StorageUnavailable("the receiver is shutting down"))
            elif self._waiting >= self._max_waiting:
                future.set_exception(StorageUnavailable("too many deliveries waiting for the database"))
            else:
                self._waiting += 1
                self._put_locked(_Delivery(events, headers, verdict, _Waiter(future, loop)))
        return future

    def probe(self) -> asyncio.Future:
        """A future for the last stored event's time; fails with StorageUnavailable if the database is not there."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._put(_Probe(_Waiter(future, loop))):
            future.set_exception(StorageUnavailable("the receiver is shutting down"))
        return future

    def reject(self, rejection: Rejection) -> None:
        """Log a refused request; it is written with the next batch, and lost only if that batch fails."""
        self._put(rejection)

    def _put(self, item: object) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._put_locked(item)
            return True

    def _put_locked(self, item: object) -> None:
        self._start_locked()
        self._queue.put(item)

    def start(self) -> None:
        """Start the writer thread now (it also starts on first use)."""
        with self._lock:
            if not self._closed:
                self._start_locked()

    def _start_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="receiver-writer", daemon=True)
            self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Refuse new work, commit and answer everything queued, close the database. Blocks; call off the loop."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)
        else:
            self._close_db()

    # -- the writer thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = _Batch()
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.add(item)
                if batch.events >= self._max_batch_events:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if stopping:
                # Nothing can be queued after _STOP (close() holds the lock); take what came before it.
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not _STOP:
                        batch.add(item)
            self._process(batch)
        self._close_db()

    def _process(self, batch: _Batch) -> None:
        """Store the batch and answer every delivery and probe in it, whatever happens."""
        answers = _Answers()
        try:
            if batch.deliveries or batch.rejections:
                self._store(batch, answers)
            for probe in batch.probes:
                try:
                    answers.add(probe.waiter, last_event_at(self._connection()))
                except (sqlite3.Error, OSError, StorageUnavailable) as error:
                    self._close_db()
                    answers.add(probe.waiter, error=StorageUnavailable(_describe(error)))
        finally:
            if batch.deliveries:
                with self._lock:
                    self._waiting -= len(batch.deliveries)
            answers.send()

    def _store(self, batch: _Batch, answers: _Answers) -> None:
        try:
            try:
                outcomes = self._commit(batch, isolate=False)
            except _OneDeliveryFailed:
                # Rare: find the delivery at fault by giving each its own savepoint, and store the others.
                outcomes = self._commit(batch, isolate=True)
        except (sqlite3.Error, OSError, StorageUnavailable) as error:
            reason = _describe(error)
        except Exception as error:  # noqa: BLE001 - logged below, and every delivery is still answered
            # A fault of ours, not of the storage: still nothing in this batch may be acknowledged. The
            # message may quote event data, so only the type and the code path are logged.
            reason = f"unexpected {type(error).__name__}"
            log.error("writer failed: %s\n%s", reason, "".join(traceback.format_tb(error.__traceback__)))
        else:
            for delivery, outcome in zip(batch.deliveries, outcomes, strict=True):
                if isinstance(outcome, SaveResult):
                    answers.add(delivery.waiter, outcome)
                else:
                    answers.add(delivery.waiter, error=outcome)
            return
        log.error("storage unavailable, %d deliveries refused: %s", len(batch.deliveries), reason)
        self._close_db()
        for delivery in batch.deliveries:
            answers.add(delivery.waiter, error=StorageUnavailable(reason))

    def _commit(self, batch: _Batch, *, isolate: bool) -> list[SaveResult | DeliveryNotStored]:
        """Store the batch in one transaction. Without `isolate`, any delivery's own failure aborts it all."""
        db = self._connection()
        received_at = utc_now()
        with db.atomic():
            if isolate:
                outcomes = _save_isolated(db, batch.deliveries, received_at)
            else:
                try:
                    outcomes = _save_together(db, batch.deliveries, received_at)
                except sqlite3.Error as error:
                    if not isinstance(error, sqlite3.IntegrityError):
                        raise
                    raise _OneDeliveryFailed from error
                except Exception as error:  # one odd delivery must not sink the batch with it
                    raise _OneDeliveryFailed from error
            results = [outcome for outcome in outcomes if isinstance(outcome, SaveResult)]
            add_to_counters(
                db,
                {
                    "accepted": sum(result.stored for result in results),
                    "duplicate": sum(result.duplicates for result in results),
                    "rejected": len(batch.rejections),
                },
            )
            record_rejections(db, batch.rejections)
        return outcomes

    def _connection(self) -> Database:
        """The open connection, after checking its file is still the one on disk; reopens after a failure."""
        if self._db is not None:
            if self._identity() != self._file_identity:
                # SQLite keeps writing to a deleted or replaced file without complaint.
                self._close_db()
                raise StorageUnavailable("database file is missing or was replaced")
            return self._db
        if self._created and not self._path.exists():
            raise StorageUnavailable("database file is missing")
        self._db = self._open_db(self._path, self._busy_timeout)
        self._created = True
        self._file_identity = self._identity()
        return self._db

    def _identity(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._path)
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino

    def _close_db(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None


def _save_together(db: Database, deliveries: list[_Delivery], received_at: str) -> list[SaveResult]:
    """Every event of every delivery in a few statements: the writer thread then gives up the GIL a few
    times per batch rather than a few times per event."""
    items = []
    for delivery in deliveries:
        headers = json.dumps(delivery.headers)
        items.extend((event, headers, delivery.verdict) for event in delivery.events)
    is_new = iter(save_event_batch(db, items, received_at=received_at))
    outcomes = []
    for delivery in deliveries:
        stored = sum(next(is_new) for _ in delivery.events)
        outcomes.append(SaveResult(stored, len(delivery.events) - stored))
    return outcomes


def _save_isolated(db: Database, deliveries: list[_Delivery], received_at: str) -> list[SaveResult | DeliveryNotStored]:
    """Each delivery in its own savepoint, so the one at fault is refused and the others are stored."""
    outcomes: list[SaveResult | DeliveryNotStored] = []
    for delivery in deliveries:
        try:
            with db.atomic():  # a savepoint: undoes only this delivery
                outcomes.append(_save_delivery(db, delivery, received_at))
        except sqlite3.Error as error:
            if not isinstance(error, sqlite3.IntegrityError):
                raise
            outcomes.append(DeliveryNotStored(_describe(error)))
        except Exception as error:  # noqa: BLE001 - one odd delivery must not sink the batch with it
            log.error("delivery not stored: %s", type(error).__name__)
            outcomes.append(DeliveryNotStored(type(error).__name__))
    return outcomes


def _save_delivery(db: Database, delivery: _Delivery, received_at: str) -> SaveResult:
    stored = duplicates = 0
    for event in delivery.events:
        if save_event(db, event, headers=delivery.headers, verdict=delivery.verdict, received_at=received_at):
            stored += 1
        else:
            duplicates += 1
    return SaveResult(stored, duplicates)


def _describe(error: BaseException) -> str:
    # SQLite's and the OS's messages name the failure, never a value being written.
    return f"{type(error).__name__}: {error}"
