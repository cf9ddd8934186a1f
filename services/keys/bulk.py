"""Keys for every eligible channel at once: bounded concurrency, one outcome per channel, never a retry."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TypeVar

from sqlite_utils import Database

from services.accounts import Person, enforce
from services.channels.labels import channel_labels
from services.keys.generation import KeyNotAllowed, KeyResult, generate_key
from services.keys.key_status import key_status_sql
from services.keys.readiness import DONE_STATUSES, KeyNotReady, ReadinessConfig, StepState, prepare_key
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi, PartnerApiError
from services.spreadsheet import csv_text
from services.store import DatabaseError, is_busy

DEFAULT_WORKERS = 8
ELIGIBLE_LIMIT = 10_000  # channels one bulk run lists, and the most its button counts
# The file of a bulk run's keys: each key named by its number and business, so it can be handed to its client.
KEY_CSV_COLUMNS = ("number", "business", "channel_id", "client_id", "client_name", "api_key", "address")
_KEY_STATUS_SQL = key_status_sql("channels.id")
log = logging.getLogger(__name__)
Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class BulkOutcome:
    channel_id: str
    result: KeyResult | None = None
    kind: str | None = None
    error: str | None = None
    # The follow-through after the key was made (empty when it was not run).
    readiness: tuple[StepState, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def ready(self) -> bool:
        return bool(self.readiness) and all(state.status in DONE_STATUSES for state in self.readiness)


@dataclass
class BulkSummary:
    outcomes: list[BulkOutcome] = field(default_factory=list)

    @property
    def succeeded(self) -> list[BulkOutcome]:
        return [outcome for outcome in self.outcomes if outcome.ok]

    @property
    def failed(self) -> list[BulkOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def not_ready(self) -> list[BulkOutcome]:
        """Keys made, or prepared again, that did not finish the follow-through."""
        return [outcome for outcome in self.outcomes if outcome.readiness and not outcome.ready]


def eligible_channel_ids(db: Database, *, direct_paid: bool = False, limit: int = ELIGIBLE_LIMIT) -> list[str]:
    """Running, not revoked, with no key and no attempt in flight or awaiting a check (and granted when
    the partner is Direct-Paid). Bulk never replaces an existing key."""
    permission = "and permission = 'granted'" if direct_paid else ""
    rows = db.query(
        f"""
        select id from channels
        where status = 'running' and +revoked = 0 {permission} and {_KEY_STATUS_SQL} in ('none', 'revoked')
        order by id limit ?
        """,  # noqa: S608 - fixed SQL fragments
        [limit],
    )
    return [row["id"] for row in rows]


def eligible_count(db: Database, *, direct_paid: bool = False, limit: int = ELIGIBLE_LIMIT) -> int:
    """How many channels a bulk run would list, at most `limit`: read from the count of channels wanting a key
    that triggers keep (services.migrations), so it costs the same at 100 channels or 100,000."""
    granted_only = "where granted = 1" if direct_paid else ""
    row = db.execute(f"select coalesce(sum(channels), 0) from channels_wanting_key_counts {granted_only}").fetchone()  # noqa: S608
    return min(int(row[0]), limit)


class _Connections:
    """One SQLite connection per worker thread: transactions must not interleave on one connection."""

    def __init__(self, open_db: Callable[[], Database]) -> None:
        self._open_db = open_db
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def get(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._open_db()
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        for db in self._all:
            db.close()


def _run_each(
    open_db: Callable[[], Database],
    channel_ids: Iterable[str],
    work: Callable[[Database, str], BulkOutcome],
    *,
    max_workers: int,
    on_progress: Callable[[int, int, BulkOutcome], None] | None,
) -> BulkSummary:
    """`work` once per channel, `max_workers` at a time, each worker on its own connection; `on_progress(done,
    total, outcome)` is called from the calling thread after each channel."""
    ids = list(dict.fromkeys(channel_ids))
    connections = _Connections(open_db)

    def one(channel_id: str) -> BulkOutcome:
        try:
            return work(connections.get(), channel_id)
        except Exception as error:  # noqa: BLE001 - one broken channel must not abort the others
            # SQLite's messages are its own ("database is locked") and are logged whole; any other exception
            # might quote a value it was given, so only its type and where it was raised are.
            cause = str(error) if isinstance(error, DatabaseError) else _raised_at(error)
            log.warning("bulk key run: channel %s failed: %s: %s", channel_id, type(error).__name__, cause)
            if is_busy(error):
                return BulkOutcome(channel_id, kind="busy", error="the console database stayed busy; retry it")
            return BulkOutcome(channel_id, kind="error", error=f"unexpected {type(error).__name__}: see the log")

    summary = BulkSummary()
    try:
        with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="bulk-keys") as pool:
            futures = [pool.submit(one, channel_id) for channel_id in ids]
            for done, future in enumerate(as_completed(futures), start=1):
                outcome = future.result()
                summary.outcomes.append(outcome)
                if on_progress is not None:
                    on_progress(done, len(ids), outcome)
    finally:
        connections.close()
    return summary


def _raised_at(error: BaseException) -> str:
    """Where an exception was raised, as file:line in function, innermost first; no source text, no values."""
    frames = reversed(traceback.extract_tb(error.__traceback__))
    return " < ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}" for frame in frames)


def _enforce_once(open_db: Callable[[], Database], actor: Person, action_name: str) -> None:
    """The role is checked once for the whole job, before any worker starts."""
    db = open_db()
    try:
        enforce(db, actor, action_name)
    finally:
        db.close()


def generate_many(
    open_db: Callable[[], Database],
    api: PartnerApi,
    vault: KeyVault,
    channel_ids: Iterable[str],
    *,
    actor: Person,
    direct_paid: bool = False,
    readiness: ReadinessConfig | None = None,
    max_workers: int = DEFAULT_WORKERS,
    on_progress: Callable[[int, int, BulkOutcome], None] | None = None,
) -> BulkSummary:
    """Generate a key for each channel and, given `readiness`, make each new key ready to use. Raises NotAllowed
    (audited) before any channel when the actor's role may not generate keys in bulk."""
    _enforce_once(open_db, actor, "bulk_generate_keys")

    def one(db: Database, channel_id: str) -> BulkOutcome:
        try:
            result = generate_key(db, api, vault, channel_id, actor=actor, direct_paid=direct_paid)
        except KeyNotAllowed as error:
            return BulkOutcome(channel_id, kind="not_allowed", error=str(error))
        except PartnerApiError as error:
            return BulkOutcome(channel_id, kind=error.kind, error=error.message)
        states = prepare_key(db, vault, channel_id, readiness, actor=actor) if readiness else []
        return BulkOutcome(channel_id, result=result, readiness=tuple(states))

    return _run_each(open_db, channel_ids, one, max_workers=max_workers, on_progress=on_progress)


def prepare_many(
    open_db: Callable[[], Database],
    vault: KeyVault,
    channel_ids: Iterable[str],
    config: ReadinessConfig,
    *,
    actor: Person,
    max_workers: int = DEFAULT_WORKERS,
    on_progress: Callable[[int, int, BulkOutcome], None] | None = None,
) -> BulkSummary:
    """Run the follow-through again for each channel's active key, from its first step not done. Raises
    NotAllowed (audited) before any channel when the actor's role may not."""
    _enforce_once(open_db, actor, "prepare_key")

    def one(db: Database, channel_id: str) -> BulkOutcome:
        try:
            states = prepare_key(db, vault, channel_id, config, actor=actor, start_at=None)
        except KeyNotReady as error:
            return BulkOutcome(channel_id, kind="not_allowed", error=str(error))
        return BulkOutcome(channel_id, readiness=tuple(states))

    return _run_each(open_db, channel_ids, one, max_workers=max_workers, on_progress=on_progress)


def named_key_rows(db: Database, keys: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """Each new key (`channel_id`, `api_key`, `address`) with the number, business (the number's display name,
    else its client's) and client it belongs to, as the console knows them now; unknown ones stay empty."""
    rows = list(keys)
    labels = channel_labels(db, (row["channel_id"] for row in rows))
    named = []
    for row in rows:
        label = labels[row["channel_id"]]
        named.append(
            {
                "number": label.phone_number or "",
                "business": label.phone_name or label.client_name or "",
                "channel_id": row["channel_id"],
                "client_id": label.client_id or "",
                "client_name": label.client_name or "",
                "api_key": row["api_key"],
                "address": row.get("address") or "",
            }
        )
    return named


def keys_csv(db: Database, keys: Iterable[Mapping[str, str]]) -> str:
    """The CSV a bulk run's keys are downloaded as, one named row per key."""
    return csv_text(KEY_CSV_COLUMNS, named_key_rows(db, keys))
