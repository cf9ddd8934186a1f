"""Sign-in throttling: per source, growing delays, reserved before the password is checked, shared in SQLite."""

from __future__ import annotations

import threading
from pathlib import Path

from services.sign_in import (
    FORGET_AFTER_SECONDS,
    FREE_FAILURES,
    attempt_succeeded,
    delay_after,
    reserve_attempt,
)
from services.store import open_console_db


def test_the_first_failures_are_free_then_each_delay_doubles() -> None:
    assert [delay_after(n) for n in range(1, FREE_FAILURES + 1)] == [0.0] * FREE_FAILURES
    delays = [delay_after(n) for n in range(FREE_FAILURES + 1, FREE_FAILURES + 6)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert delay_after(100) == 300.0


def test_a_blocked_source_waits_and_a_success_clears_it(db) -> None:
    for _ in range(FREE_FAILURES + 1):
        assert reserve_attempt(db, "10.0.0.1", "ana", now=1000.0).allowed
    refused = reserve_attempt(db, "10.0.0.1", "ana", now=1001.0)
    assert (refused.allowed, refused.wait_seconds) == (False, 1.0)
    allowed = reserve_attempt(db, "10.0.0.1", "ana", now=1002.5)
    assert allowed.allowed
    attempt_succeeded(db, allowed)
    assert db["sign_in_throttle"].count == 0


def test_a_flood_from_one_address_never_locks_out_another(db) -> None:
    # The old behaviour: five wrong passwords from anyone locked every operator out.
    for _ in range(50):
        reserve_attempt(db, "203.0.113.9", "ana", now=1000.0)
    assert not reserve_attempt(db, "203.0.113.9", "bob", now=1000.0).allowed
    assert reserve_attempt(db, "10.0.0.2", "ana", now=1000.0).allowed


def test_a_quiet_source_starts_again(db) -> None:
    for _ in range(FREE_FAILURES + 3):
        reserve_attempt(db, "10.0.0.1", "ana", now=1000.0 + _ * 100)
    later = 1000.0 + FREE_FAILURES * 100 + FORGET_AFTER_SECONDS + 400
    assert reserve_attempt(db, "10.0.0.1", "ana", now=later).allowed
    row = db["sign_in_throttle"].get("source:10.0.0.1")
    assert row["failures"] == 1


def test_ten_tabs_at_once_get_no_more_guesses_than_the_limit(tmp_path: Path) -> None:
    # The old behaviour: six guesses got through a limit of five. Each thread is a dashboard process's own
    # connection, as every browser session reaches the same file.
    path = tmp_path / "console.db"
    open_console_db(path).close()
    allowed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def guess() -> None:
        db = open_console_db(path)
        try:
            barrier.wait()
            result = reserve_attempt(db, "198.51.100.7", "ana", now=5000.0).allowed
        finally:
            db.close()
        with lock:
            allowed.append(result)

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == FREE_FAILURES + 1
