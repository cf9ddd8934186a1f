"""Sign-in throttling: a name from a source is blocked after growing delays; a source only queues its attempts,
so a shared address slows guesses without locking anyone out. Reserved before the password is checked, shared in
SQLite."""

from __future__ import annotations

import threading
from pathlib import Path

from services.sign_in import (
    FORGET_AFTER_SECONDS,
    FREE_FAILURES,
    SOURCE_FREE_FAILURES,
    SOURCE_MAX_SPACING_SECONDS,
    attempt_succeeded,
    delay_after,
    doubling_wait,
    reserve_attempt,
    source_spacing_after,
)
from services.store import open_console_db


def test_the_first_failures_are_free_then_each_delay_doubles() -> None:
    assert [delay_after(n) for n in range(1, FREE_FAILURES + 1)] == [0.0] * FREE_FAILURES
    delays = [delay_after(n) for n in range(FREE_FAILURES + 1, FREE_FAILURES + 6)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert delay_after(100) == 300.0


def test_a_doubling_wait_is_free_then_doubles_up_to_its_most() -> None:
    waits = [doubling_wait(failures, free=2, first=0.5, most=3.0) for failures in range(0, 8)]
    assert waits == [0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_blocked_name_waits_and_a_success_clears_it(db) -> None:
    for _ in range(FREE_FAILURES + 1):
        assert reserve_attempt(db, "10.0.0.1", "ana", now=1000.0).allowed
    refused = reserve_attempt(db, "10.0.0.1", "ana", now=1001.0)
    assert (refused.allowed, refused.wait_seconds) == (False, 1.0)
    allowed = reserve_attempt(db, "10.0.0.1", "ana", now=1002.5)
    assert allowed.allowed
    attempt_succeeded(db, allowed)
    assert db["sign_in_throttle"].get("source:10.0.0.1")["failures"] == FREE_FAILURES + 1
    assert db["sign_in_throttle"].count_where("key like 'name:%'") == 0


def test_a_source_is_spaced_out_but_never_refused() -> None:
    assert [source_spacing_after(n) for n in range(1, SOURCE_FREE_FAILURES + 1)] == [0.0] * SOURCE_FREE_FAILURES
    assert [source_spacing_after(SOURCE_FREE_FAILURES + n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert source_spacing_after(1000) == SOURCE_MAX_SPACING_SECONDS


def test_a_flood_from_a_shared_source_never_locks_out_a_colleague(db) -> None:
    # The old behaviour: one attacker's failures behind the same proxy refused everyone there, right password or
    # not. Now the colleague's attempt is allowed once its turn comes, a few seconds at most after the flood's.
    for attempt in range(50):
        reserve_attempt(db, "local", f"mallory{attempt % 7}", now=1000.0 + attempt * 5)
    colleague = reserve_attempt(db, "local", "bob", now=1250.0)
    assert colleague.allowed
    assert colleague.wait_seconds <= SOURCE_MAX_SPACING_SECONDS
    attempt_succeeded(db, colleague)
    # Another address was never affected at all.
    other = reserve_attempt(db, "10.0.0.2", "mallory0", now=1250.0)
    assert (other.allowed, other.wait_seconds) == (True, 0.0)


def test_changing_names_or_tabs_gets_no_more_than_one_check_per_turn(db) -> None:
    # Sixty guesses at once under sixty names: each may be checked only at its own turn of the source.
    reservations = [reserve_attempt(db, "203.0.113.9", f"name{n}", now=2000.0) for n in range(60)]
    assert all(reservation.allowed for reservation in reservations)
    waits = [reservation.wait_seconds for reservation in reservations]
    assert waits == sorted(waits)
    expected_last = sum(source_spacing_after(n) for n in range(1, 60))
    assert waits[-1] == expected_last
    # Past the free failures, at most one check per SOURCE_MAX_SPACING_SECONDS: 60 guesses take minutes.
    assert waits[-1] > 150


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
