"""What the key-health process says about itself, in the console database (services.process_state, under the name
"key_health"): alive since when, how often each key is checked, when its next round is, and when it stopped."""

from __future__ import annotations

from sqlite_utils import Database

from services import process_state
from services.process_state import ProcessState

NAME = "key_health"
KeyHealthProcess = ProcessState


def mark_started(db: Database, *, interval_minutes: float) -> None:
    process_state.mark_started(db, NAME, interval_minutes=interval_minutes)


def mark_next_round(db: Database, next_round_at: str) -> None:
    process_state.mark_next_run(db, NAME, next_round_at)


def mark_stopped(db: Database) -> None:
    process_state.mark_stopped(db, NAME)


def process_status(db: Database) -> KeyHealthProcess | None:
    return process_state.process_state(db, NAME)


def started(db: Database, pid: int) -> bool:
    """True once the key-health process `pid` has started and not stopped (what the stack waits for)."""
    return process_state.started(db, NAME, pid)
