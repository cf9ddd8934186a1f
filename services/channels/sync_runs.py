"""One Partner API sync at a time across processes, and a record of each run, by the scheduler or an operator.

The lease is one row of `sync_lease`: who holds it, since when, until when. The sync renews it inside each
page's transaction, so a run that stalls or dies lets go: when its lease expires, or at once when it ran on
this host and its process is gone. Whoever takes a lease over marks the run it left behind as abandoned.
Each run is a row of `sync_runs`: trigger, operator, start, end, duration, outcome, counts, and what went
wrong in words that never hold a secret.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.accounts import Person, enforce
from services.channels.sync import SyncReport, sync_channels
from services.partner_api import PartnerApi, PartnerApiError
from services.store import DatabaseError, utc_now

log = logging.getLogger("console.sync")

LEASE_NAME = "partner_api_sync"
# Renewed every page; a page takes seconds, so only a holder that stopped lets it run out.
LEASE_SECONDS = 300.0
TRIGGERS = ("scheduler", "operator")
SCHEDULER = "scheduler"
RECENT_RUNS = 20


class SyncBusy(Exception):
    """Another sync holds the lease; `holder` and `since` say who, and since when."""

    def __init__(self, holder: str, since: str) -> None:
        super().__init__(f"A sync is already running, started by {holder} at {since} (UTC). Try again when it ends.")
        self.holder = holder
        self.since = since


class LeaseLost(Exception):
    """The lease ran out under a sync that stalled, and someone else may have taken it: the sync stops."""


@dataclass(frozen=True)
class SyncRun:
    id: int
    trigger: str
    operator: str
    started_at: str
    finished_at: str | None
    duration_seconds: float | None
    outcome: str
    error_kind: str | None
    error: str | None
    seen: int | None
    total: int | None
    new_channels: int | None
    changed_channels: int | None
    left_running: int | None

    @property
    def by(self) -> str:
        return "the scheduler" if self.trigger == SCHEDULER else self.operator

    def counts(self) -> str:
        if self.seen is None:
            return ""
        text = f"{self.seen:,} channels read, {self.new_channels or 0:,} new, {self.changed_channels or 0:,} changed"
        return text + (f", {self.left_running:,} left running" if self.left_running else "")


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    since: str
    until: str


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _process_gone(host: str | None, pid: int | None) -> bool:
    """True only when the holder ran on this host and its process no longer exists."""
    if host != socket.gethostname() or not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _lease_row(db: Database) -> dict[str, Any] | None:
    rows = list(db.query("select * from sync_lease where name = ?", [LEASE_NAME]))
    return rows[0] if rows else None


def _lapsed(row: dict[str, Any], now: datetime) -> bool:
    return row["expires_at"] < _iso(now) or _process_gone(row["host"], row["pid"])


def current_holder(db: Database) -> LeaseHolder | None:
    """Who is syncing right now, if anyone."""
    row = _lease_row(db)
    if row is None or _lapsed(row, _now()):
        return None
    return LeaseHolder(row["holder"], row["acquired_at"], row["expires_at"])


def _take_lease(db: Database, *, trigger: str, operator: str) -> tuple[str, int]:
    """Start a run: take the lease (raise SyncBusy when someone holds it) and record the run, in one
    transaction. Returns the lease's token and the run's id."""
    token = secrets.token_hex(16)
    holder = "the scheduler" if trigger == SCHEDULER else operator
    now = _now()
    with db.atomic():
        row = _lease_row(db)
        if row is not None and not _lapsed(row, now):
            raise SyncBusy(row["holder"], row["acquired_at"])
        if row is not None and row["run_id"] is not None:
            db.execute(
                "update sync_runs set outcome = 'abandoned', finished_at = ?, error_kind = 'abandoned', "
                "error = 'the process running it stopped before it finished' where id = ? and outcome = 'running'",
                [_iso(now), row["run_id"]],
            )
        run_id = db.execute(
            "insert into sync_runs (trigger, operator, started_at, outcome) values (?, ?, ?, 'running')",
            [trigger, operator, _iso(now)],
        ).lastrowid
        db.execute(
            """
            insert into sync_lease (name, token, holder, host, pid, run_id, acquired_at, expires_at)
            values (:name, :token, :holder, :host, :pid, :run_id, :now, :until)
            on conflict (name) do update set token = excluded.token, holder = excluded.holder,
                host = excluded.host, pid = excluded.pid, run_id = excluded.run_id,
                acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
            """,
            {
                "name": LEASE_NAME,
                "token": token,
                "holder": holder,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "run_id": run_id,
                "now": _iso(now),
                "until": _iso(now + timedelta(seconds=LEASE_SECONDS)),
            },
        )
    return token, int(run_id)


def _renew(db: Database, token: str) -> None:
    """Extend the lease; inside a page's transaction. Raises LeaseLost when it is no longer ours."""
    until = _iso(_now() + timedelta(seconds=LEASE_SECONDS))
    cursor = db.execute("update sync_lease set expires_at = ? where name = ? and token = ?", [until, LEASE_NAME, token])
    if cursor.rowcount != 1:
        raise LeaseLost("the sync lease ran out and was taken over; this sync stopped")


def _release(db: Database, token: str) -> None:
    with db.atomic():
        db.execute("delete from sync_lease where name = ? and token = ?", [LEASE_NAME, token])


def describe_error(error: BaseException) -> tuple[str, str, str]:
    """(outcome, kind, message) for a run that ended in `error`: our own words, never a secret."""
    if isinstance(error, PartnerApiError):
        return "failed", error.kind, error.message
    if isinstance(error, LeaseLost):
        return "failed", "lease_lost", str(error)
    if isinstance(error, DatabaseError):
        # SQLite's own messages ("database is locked") name no value.
        return "failed", "database", f"the console database failed: {error}"
    if not isinstance(error, Exception):
        return "interrupted", "interrupted", "stopped before it finished (the process was asked to stop)"
    return "failed", type(error).__name__, f"unexpected {type(error).__name__}; see the process's log"


def _finish(db: Database, run_id: int, started: float, report: SyncReport, error: BaseException | None) -> None:
    outcome, kind, message = ("ok", None, None) if error is None else describe_error(error)
    with db.atomic():
        db.execute(
            """
            update sync_runs set finished_at = :finished, duration_seconds = :duration, outcome = :outcome,
                error_kind = :kind, error = :message, seen = :seen, total = :total, new_channels = :new,
                changed_channels = :changed, left_running = :left
            where id = :id
            """,
            {
                "id": run_id,
                "finished": utc_now(),
                "duration": round(time.monotonic() - started, 3),
                "outcome": outcome,
                "kind": kind,
                "message": message,
                "seen": report.seen,
                "total": report.total,
                "new": report.new_count,
                "changed": report.changed_count,
                "left": report.left_running_count,
            },
        )


def run_sync(
    db: Database,
    api: PartnerApi,
    *,
    trigger: str,
    actor: Person,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[SyncRun, SyncReport]:
    """Sync with the Partner API under the lease, recording the run; returns the run and its report.

    Raises NotAllowed (audited) when the actor's role may not sync, SyncBusy (nothing recorded) when another
    sync holds the lease. Any other failure is recorded as
    the run's outcome and raised again, so that the caller can show it (a PartnerApiError says what to do)."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}")
    enforce(db, actor, "sync_channels")
    token, run_id = _take_lease(db, trigger=trigger, operator=actor.id)
    started = time.monotonic()
    report = SyncReport()
    try:
        sync_channels(
            db,
            api,
            actor=actor,
            on_progress=on_progress,
            run_id=run_id,
            in_each_page=lambda page_db: _renew(page_db, token),
            report=report,
        )
    except BaseException as error:
        try:
            _finish(db, run_id, started, report, error)
        finally:
            _release(db, token)
        raise
    try:
        _finish(db, run_id, started, report, None)
    finally:
        _release(db, token)
    return get_run(db, run_id), report


def _run(row: dict[str, Any]) -> SyncRun:
    return SyncRun(**{name: row[name] for name in SyncRun.__dataclass_fields__})


def get_run(db: Database, run_id: int) -> SyncRun:
    return _run(next(db.query("select * from sync_runs where id = ?", [run_id])))


def last_run(db: Database, *, trigger: str | None = None) -> SyncRun | None:
    """The newest run (of one trigger, if given)."""
    where, params = ("where trigger = ?", [trigger]) if trigger else ("", [])
    rows = list(db.query(f"select * from sync_runs {where} order by id desc limit 1", params))  # noqa: S608
    return _run(rows[0]) if rows else None


def recent_runs(db: Database, limit: int = RECENT_RUNS) -> list[SyncRun]:
    return [_run(row) for row in db.query("select * from sync_runs order by id desc limit ?", [limit])]
