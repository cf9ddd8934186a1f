"""What a long-running process (the scheduler, key health) says about itself in the console database, one row per
process name: alive since when, how often it works, when it works next, and when it stopped. The stack waits for
the row of the process it started; Receiver health reads it. Also how such a process starts and stops: its settings
and log level (`process_settings`), the signals that stop it (`stop_signals_to`)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from sqlite_utils import Database

from services.settings import Settings, SettingsError, load_settings
from services.store import utc_now

# A next run this late means the process is gone without saying so (killed) or stuck.
OVERDUE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class ProcessState:
    pid: int
    host: str
    started_at: str
    interval_minutes: float
    next_run_at: str | None
    stopped_at: str | None

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def overdue(self, now: datetime | None = None) -> bool:
        """True when the next run should have started a while ago (a run itself renews nothing here, so a long
        run counts too)."""
        if not self.running or not self.next_run_at:
            return False
        return datetime.fromisoformat(self.next_run_at) + OVERDUE_AFTER < (now or datetime.now(UTC))


def mark_started(db: Database, name: str, *, interval_minutes: float) -> None:
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
            {"name": name, "pid": os.getpid(), "host": socket.gethostname(), "now": now, "interval": interval_minutes},
        )


def mark_next_run(db: Database, name: str, next_run_at: str) -> None:
    with db.atomic():
        db.execute(
            "update scheduler_state set next_run_at = ? where name = ? and pid = ?", [next_run_at, name, os.getpid()]
        )


def mark_stopped(db: Database, name: str) -> None:
    with db.atomic():
        db.execute(
            "update scheduler_state set stopped_at = ?, next_run_at = null where name = ? and pid = ?",
            [utc_now(), name, os.getpid()],
        )


def process_state(db: Database, name: str) -> ProcessState | None:
    rows: list[dict[str, Any]] = list(db.query("select * from scheduler_state where name = ?", [name]))
    if not rows:
        return None
    row = rows[0]
    return ProcessState(
        row["pid"], row["host"], row["started_at"], row["interval_minutes"], row["next_run_at"], row["stopped_at"]
    )


def started(db: Database, name: str, pid: int) -> bool:
    """True once process `pid` has said it started under `name` and not stopped (what the stack waits for)."""
    state = process_state(db, name)
    return state is not None and state.pid == pid and state.running


@contextmanager
def stop_signals_to(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """SIGTERM and SIGINT go to `handler` inside the block, and do what they do by default again after it (a signal
    during the clean-up ends the process). SIGINT is set explicitly too: a shell that starts a process in the
    background would have it ignored."""
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def process_settings(role: str, program: str, env: Mapping[str, str] | None = None) -> Settings | None:
    """The settings of a long-running process in `role`, its log level set from them; None when one is wrong, the
    reason printed on stderr after the `program`'s name (the process then exits with 2)."""
    try:
        settings = load_settings(env, role=role)
    except SettingsError as error:
        print(f"{program}: {error}", file=sys.stderr)
        return None
    logging.basicConfig(level=settings.log_level_number, format="%(asctime)s %(name)s %(message)s")
    return settings
