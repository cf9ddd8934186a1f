"""What the key-health process says about itself, in the console database (the row the scheduler's status uses,
under a name of its own): alive since when, how often each key is checked, when its next round is, and when it
stopped. The stack waits for the row of the process it started; Receiver health reads it."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.store import utc_now

NAME = "key_health"
# A next round this late means the process is gone without saying so (killed) or stuck.
OVERDUE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class KeyHealthProcess:
    pid: int
    host: str
    started_at: str
    interval_minutes: float
    next_round_at: str | None
    stopped_at: str | None

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def overdue(self, now: datetime | None = None) -> bool:
        if not self.running or not self.next_round_at:
            return False
        return datetime.fromisoformat(self.next_round_at) + OVERDUE_AFTER < (now or datetime.now(UTC))


def mark_started(db: Database, *, interval_minutes: float) -> None:
    now = utc_now()
    with db.atomic():
        db.execute(
            """
            insert into scheduler_state (name, pid, host, started_at, interval_minutes, next_run_at, stopped_at)
            values (:name, :pid, :host, :now, :interval, :now, null)
            on conflict (name) do update set pid = excluded.pid, host = excluded.host,
                started_at = excluded.started_at, interval_minutes = excluded.interval_minutes,
                next_run_at = excluded.next_run_at, stopped_at = null
            """,
            {"name": NAME, "pid": os.getpid(), "host": socket.gethostname(), "now": now, "interval": interval_minutes},
        )


def mark_next_round(db: Database, next_round_at: str) -> None:
    with db.atomic():
        db.execute(
            "update scheduler_state set next_run_at = ? where name = ? and pid = ?", [next_round_at, NAME, os.getpid()]
        )


def mark_stopped(db: Database) -> None:
    with db.atomic():
        db.execute(
            "update scheduler_state set stopped_at = ?, next_run_at = null where name = ? and pid = ?",
            [utc_now(), NAME, os.getpid()],
        )


def process_status(db: Database) -> KeyHealthProcess | None:
    rows: list[dict[str, Any]] = list(db.query("select * from scheduler_state where name = ?", [NAME]))
    if not rows:
        return None
    row = rows[0]
    return KeyHealthProcess(
        row["pid"], row["host"], row["started_at"], row["interval_minutes"], row["next_run_at"], row["stopped_at"]
    )


def started(db: Database, pid: int) -> bool:
    """True once the key-health process `pid` has started and not stopped (what the stack waits for)."""
    status = process_status(db)
    return status is not None and status.pid == pid and status.running
