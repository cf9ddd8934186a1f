"""Throttling password sign-ins so that guessing is slow and nobody who knows the password is locked out.

Two counters, both kept in SQLite (shared by every dashboard process) and both reserved in one write
transaction before a password is checked, so ten tabs at once cannot slip guesses past them:

- per name from a source (`name:<name>@<source>`): it blocks. After a few free failures each further one
  makes that name wait 2 s, 4 s, 8 s ... up to five minutes from that source; a correct password clears it.
- per source (`source:<source>`): it never blocks, it queues. A source may be shared by many people (every
  operator is one address behind a proxy that is not trusted, or on this machine), so refusing a source
  would let one attacker lock every colleague out. Instead each attempt from a source takes the next turn
  of that source, and after many recent failures the turns are spaced out (up to a few seconds apart); the
  attempt waits for its turn, server-side, before its password is checked. Changing the name, or opening
  more tabs, does not buy an attacker more than one check per turn, so the source's guess rate stays
  bounded, while a colleague's right password waits behind at most the attempts already queued and is then
  accepted.

A success takes its own attempt off the source's count but leaves the other failures there, so a colleague
signing in does not give an attacker at the same address a fresh start. Issue 23's per-person accounts keep
the same keys (name, source).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlite_utils import Database

FREE_FAILURES = 3
FIRST_DELAY_SECONDS = 2.0
MAX_DELAY_SECONDS = 300.0
# A team behind one address makes typos: this many recent failures cost the source nothing.
SOURCE_FREE_FAILURES = 10
SOURCE_FIRST_SPACING_SECONDS = 0.25
# At most one password check per this long from one busy source: 900 an hour, whatever the names or tabs.
SOURCE_MAX_SPACING_SECONDS = 4.0
# A key that has been quiet this long starts again from no failures.
FORGET_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Reservation:
    """`allowed`: the password may be checked, after waiting `wait_seconds` (the source's turn); refused,
    `wait_seconds` is how long the name stays blocked from this source."""

    allowed: bool
    wait_seconds: float
    keys: tuple[str, ...]


def throttle_keys(source: str, name: str) -> tuple[str, ...]:
    return (f"source:{source}", f"name:{name.casefold()}@{source}")


def doubling_wait(failures: int, *, free: int, first: float, most: float) -> float:
    """Nothing for the first `free` failures, then `first` seconds, doubling with each further one up to `most`."""
    if failures <= free:
        return 0.0
    return min(most, first * 2 ** (failures - free - 1))


def delay_after(failures: int) -> float:
    """A name from one source: no wait for the first few failures, then 2 s, 4 s, 8 s ... up to five minutes."""
    return doubling_wait(failures, free=FREE_FAILURES, first=FIRST_DELAY_SECONDS, most=MAX_DELAY_SECONDS)


def source_spacing_after(failures: int) -> float:
    """Time between two turns of one source: none at first, then 0.25 s, 0.5 s ... up to a few seconds."""
    return doubling_wait(
        failures, free=SOURCE_FREE_FAILURES, first=SOURCE_FIRST_SPACING_SECONDS, most=SOURCE_MAX_SPACING_SECONDS
    )


def _recent_failures(row: dict | None, moment: float) -> int:
    if row is None or moment - (row["last_failure_at"] or 0) > FORGET_AFTER_SECONDS:
        return 0
    return row["failures"]


def reserve_attempt(db: Database, source: str, name: str, *, now: float | None = None) -> Reservation:
    """Refuse while the name is blocked from this source; otherwise take the source's next turn and count the
    attempt as a failure until `attempt_succeeded` says not. The caller waits `wait_seconds`, then checks."""
    moment = time.time() if now is None else now
    source_key, name_key = keys = throttle_keys(source, name)
    with db.atomic():
        rows = {row["key"]: row for row in db["sign_in_throttle"].rows_where("key in (?, ?)", list(keys))}
        name_row = rows.get(name_key)
        if name_row and name_row["blocked_until"] > moment:
            return Reservation(False, name_row["blocked_until"] - moment, keys)
        source_row = rows.get(source_key)
        source_failures = _recent_failures(source_row, moment) + 1
        # For a source key, blocked_until is when its next turn starts.
        turn = max(moment, source_row["blocked_until"]) if source_row else moment
        name_failures = _recent_failures(name_row, moment) + 1
        _count_failure(db, source_key, source_failures, turn + source_spacing_after(source_failures), moment)
        _count_failure(db, name_key, name_failures, turn + delay_after(name_failures), moment)
    return Reservation(True, turn - moment, keys)


def _count_failure(db: Database, key: str, failures: int, blocked_until: float, moment: float) -> None:
    db["sign_in_throttle"].upsert(
        {"key": key, "failures": failures, "blocked_until": blocked_until, "last_failure_at": moment}, pk="key"
    )


def attempt_succeeded(db: Database, reservation: Reservation) -> None:
    """The name starts afresh; the source keeps every failure but this attempt's own."""
    source_key, name_key = reservation.keys
    with db.atomic():
        db.execute("delete from sign_in_throttle where key = ?", [name_key])
        db.execute(
            "update sign_in_throttle set failures = max(failures - 1, 0) where key = ?",
            [source_key],
        )


def wait_for_turn(reservation: Reservation) -> None:
    """Wait, in this request, until the source's turn: the delay is served before the password is checked."""
    if reservation.allowed and reservation.wait_seconds > 0:
        time.sleep(reservation.wait_seconds)
