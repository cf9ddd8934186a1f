"""What the scheduler process says about itself, in the console database (services.process_state, under the name
"scheduler"): alive since when, how often it syncs, when it syncs next, and when it stopped."""

from __future__ import annotations

from sqlite_utils import Database

from services import process_state
from services.process_state import ProcessState

NAME = "scheduler"
SchedulerStatus = ProcessState


def mark_started(db: Database, *, interval_minutes: float) -> None:
    process_state.mark_started(db, NAME, interval_minutes=interval_minutes)


def mark_next_run(db: Database, next_run_at: str) -> None:
    process_state.mark_next_run(db, NAME, next_run_at)


def mark_stopped(db: Database) -> None:
    process_state.mark_stopped(db, NAME)


def scheduler_status(db: Database) -> SchedulerStatus | None:
    return process_state.process_state(db, NAME)


def started(db: Database, pid: int) -> bool:
    """True once the scheduler process `pid` has started and not stopped (what the stack waits for)."""
    return process_state.started(db, NAME, pid)
