"""Group commit for the receiver: the deliveries that arrived together are stored in one transaction.

`BatchWriter` owns the receiver's one database connection. It stores a batch as incoming events (one fsync
with `synchronous = FULL`; services.events.incoming) and says, per delivery, whether it is stored; if the
transaction fails, no delivery of the batch is reported stored. It lists incoming events when asked. It
runs in the writer process (services.receiver.writer_main).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from services.channels.event_listing import list_incoming
from services.events.incoming import incoming_count, store_incoming
from services.events.store import SaveResult
from services.events.webhook import WebhookEvent
from services.receiver.stats import Rejection, add_to_counters, last_event_at, record_rejections
from services.store import open_console_db, utc_now

log = logging.getLogger("receiver.writer")
MAX_BATCH_EVENTS = 1000
# After listing fails, the next try waits this long, twice as long after each further failure up to the
# maximum: a lasting fault is neither retried after every batch nor logged many times a second.
LISTING_RETRY_SECONDS = 1.0
MAX_LISTING_RETRY_SECONDS = 60.0
DEFAULT_BUSY_TIMEOUT_SECONDS = 3.0


class StorageUnavailable(Exception):
    """The database could not take the write (locked past its timeout, disk full, file gone): retry later."""


class DeliveryNotStored(Exception):
    """This one delivery could not be stored although the database works; the rest of its batch was."""


class _OneDeliveryFailed(Exception):
    """A delivery failed for a reason of its own; the batch is retried with each delivery isolated."""


@dataclass(frozen=True)
class Delivery:
    events: list[WebhookEvent]
    headers: dict[str, str]
    verdict: str


DeliveryOutcome = SaveResult | DeliveryNotStored | StorageUnavailable


def open_writer_db(path: Path, busy_timeout_seconds: float) -> Database:
    db = open_console_db(path)
    # Shorter than 360dialog's delivery timeout: a 503 it can retry beats a timeout it cannot read.
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
    # A statement inside a transaction keeps a journal of the pages it changes, to undo itself alone. SQLite
    # moves that journal to a temporary file once one statement's passes 64 KiB, and every later statement of
    # the transaction then writes each page it changes there, two system calls a page: listing wrote five
    # times as many pages there as to the write-ahead log. In memory it costs no call, and nothing durable
    # lives there (the log makes a transaction atomic).
    db.execute("PRAGMA temp_store = MEMORY")
    return db


class BatchWriter:
    """Stores batches of deliveries, each batch in one transaction, on a connection it reopens after failures."""

    def __init__(
        self,
        db_path: Path,
        *,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        open_db: Callable[[Path, float], Database] = open_writer_db,
    ) -> None:
        self._path = Path(db_path)
        self._busy_timeout = busy_timeout_seconds
        self._open_db = open_db
        self._db: Database | None = None
        self._file_identity: tuple[int, int] | None = None
        self._created = False
        # Incoming events not yet listed, as far as this writer knows; None until it has looked.
        self._unlisted: int | None = None
        self._listing_retry_at = 0.0
        self._listing_retry_pause = LISTING_RETRY_SECONDS

    def store(self, deliveries: list[Delivery], rejections: list[Rejection]) -> list[DeliveryOutcome]:
        """One outcome per delivery; never raises. Rejections are logged with the batch, lost only if it fails."""
        try:
            try:
                return self._commit(deliveries, rejections, isolate=False)
            except _OneDeliveryFailed:
                # Rare: find the delivery at fault by giving each its own savepoint, and store the others.
                return self._commit(deliveries, rejections, isolate=True)
        except (sqlite3.Error, OSError, StorageUnavailable) as error:
            reason = _describe(error)
        except Exception as error:  # noqa: BLE001 - logged below, and every delivery is still answered
            # A fault of ours, not of the storage: still nothing in this batch may be acknowledged. The
            # message may quote event data, so only the type and the code path are logged.
            reason = f"unexpected {type(error).__name__}"
            log.error("writer failed: %s\n%s", reason, "".join(traceback.format_tb(error.__traceback__)))
        log.error("storage unavailable, %d deliveries refused: %s", len(deliveries), reason)
        self.close()
        return [StorageUnavailable(reason) for _ in deliveries]

    @property
    def unlisted(self) -> int:
        """Incoming events this writer has stored and not listed (0 until it has read the table)."""
        return self._unlisted or 0

    @property
    def seconds_until_listing_retry(self) -> float:
        """How long list_batch() will keep declining after a failure (0 when it would try now)."""
        return max(0.0, self._listing_retry_at - time.monotonic())

    def list_batch(self, limit: int) -> int:
        """List up to `limit` of the oldest incoming events in one transaction; how many. Never raises: a
        failure is logged and the events stay incoming; calls decline until the retry pause has passed."""
        if self.seconds_until_listing_retry:
            return 0
        try:
            db = self._connection()
            with db.atomic():
                listed = list_incoming(db, limit)
        except (sqlite3.Error, OSError, StorageUnavailable) as error:
            return self._listing_failed(_describe(error))
        except Exception as error:  # noqa: BLE001 - as in store(): a fault of ours must not stop the writer
            trace = "".join(traceback.format_tb(error.__traceback__))
            return self._listing_failed(f"unexpected {type(error).__name__}\n{trace}")
        self._unlisted = max(0, self.unlisted - listed) if listed == limit else 0
        self._listing_retry_pause = LISTING_RETRY_SECONDS
        return listed

    def _listing_failed(self, reason: str) -> int:
        pause = self._listing_retry_pause
        log.error("incoming events not listed (they stay stored; next try in %.0f s): %s", pause, reason)
        self.close()
        self._listing_retry_at = time.monotonic() + pause
        self._listing_retry_pause = min(MAX_LISTING_RETRY_SECONDS, pause * 2)
        return 0

    def list_all(self, batch: int) -> int:
        """List every incoming event, `batch` at a time; stops at the first failure. How many were listed."""
        total = 0
        while listed := self.list_batch(batch):
            total += listed
            if listed < batch:
                break
        return total

    def last_event_at(self) -> str | None:
        """When the newest event was stored; raises StorageUnavailable if the database is not there."""
        try:
            return last_event_at(self._connection())
        except (sqlite3.Error, OSError) as error:
            self.close()
            raise StorageUnavailable(_describe(error)) from None

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def _commit(
        self, deliveries: list[Delivery], rejections: list[Rejection], *, isolate: bool
    ) -> list[DeliveryOutcome]:
        """Store the batch in one transaction. Without `isolate`, any delivery's own failure aborts it all."""
        db = self._connection()
        received_at = utc_now()
        with db.atomic():
            if isolate:
                outcomes = _save_isolated(db, deliveries, received_at)
            else:
                try:
                    outcomes = _save_together(db, deliveries, received_at)
                except sqlite3.Error as error:
                    if not isinstance(error, sqlite3.IntegrityError):
                        raise
                    raise _OneDeliveryFailed from error
                except Exception as error:  # one odd delivery must not sink the batch with it
                    raise _OneDeliveryFailed from error
            results = [outcome for outcome in outcomes if isinstance(outcome, SaveResult)]
            stored = sum(result.stored for result in results)
            add_to_counters(
                db,
                {
                    "accepted": stored,
                    "duplicate": sum(result.duplicates for result in results),
                    "rejected": len(rejections),
                },
            )
            record_rejections(db, rejections)
        self._unlisted = self.unlisted + stored
        return outcomes

    def _connection(self) -> Database:
        """The open connection, after checking its file is still the one on disk; reopens after a failure."""
        if self._db is not None:
            if self._identity() != self._file_identity:
                # SQLite keeps writing to a deleted or replaced file without complaint.
                self.close()
                raise StorageUnavailable("database file is missing or was replaced")
            return self._db
        if self._created and not self._path.exists():
            raise StorageUnavailable("database file is missing")
        self._db = self._open_db(self._path, self._busy_timeout)
        self._created = True
        self._file_identity = self._identity()
        if self._unlisted is None:
            self._unlisted = incoming_count(self._db)
        return self._db

    def _identity(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._path)
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino


def _save_together(db: Database, deliveries: list[Delivery], received_at: str) -> list[DeliveryOutcome]:
    """Every event of every delivery in a few statements: few round trips into SQLite per batch."""
    items = []
    for delivery in deliveries:
        headers = json.dumps(delivery.headers)
        items.extend((event, headers, delivery.verdict) for event in delivery.events)
    is_new = iter(store_incoming(db, items, received_at=received_at))
    outcomes: list[DeliveryOutcome] = []
    for delivery in deliveries:
        stored = sum(next(is_new) for _ in delivery.events)
        outcomes.append(SaveResult(stored, len(delivery.events) - stored))
    return outcomes


def _save_isolated(db: Database, deliveries: list[Delivery], received_at: str) -> list[DeliveryOutcome]:
    """Each delivery in its own savepoint, so the one at fault is refused and the others are stored."""
    outcomes: list[DeliveryOutcome] = []
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


def _save_delivery(db: Database, delivery: Delivery, received_at: str) -> SaveResult:
    headers = json.dumps(delivery.headers)
    items = [(event, headers, delivery.verdict) for event in delivery.events]
    stored = sum(store_incoming(db, items, received_at=received_at))
    return SaveResult(stored, len(items) - stored)


def _describe(error: BaseException) -> str:
    # SQLite's and the OS's messages name the failure, never a value being written.
    return f"{type(error).__name__}: {error}"
