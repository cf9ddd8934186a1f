"""Throttling password sign-ins: per source address, and per name from that address, with growing delays.

Every attempt is reserved before its password is checked: in one write transaction it is refused when a
key is still blocked, or else counted as a failure and the next delay set; a correct password then clears
its keys. So ten tabs at once cannot slip guesses past the limit, and the counters live in SQLite, shared
by every dashboard process. Keys are per source, so a flood from one address never locks out another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlite_utils import Database

FREE_FAILURES = 3
FIRST_DELAY_SECONDS = 2.0
MAX_DELAY_SECONDS = 300.0
# A source that has been quiet this long starts again from no failures.
FORGET_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Reservation:
    allowed: bool
    wait_seconds: float
    keys: tuple[str, ...]


def throttle_keys(source: str, name: str) -> tuple[str, ...]:
    return (f"source:{source}", f"name:{name.casefold()}@{source}")


def delay_after(failures: int) -> float:
    """No wait for the first few failures, then 2 s, 4 s, 8 s ... up to five minutes."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (failures - FREE_FAILURES - 1))


def reserve_attempt(db: Database, source: str, name: str, *, now: float | None = None) -> Reservation:
    """Refuse while blocked; otherwise count this attempt as a failure until `attempt_succeeded` says not."""
    moment = time.time() if now is None else now
    keys = throttle_keys(source, name)
    with db.atomic():
        rows = {row["key"]: row for row in db["sign_in_throttle"].rows_where("key in (?, ?)", list(keys))}
        blocked = [row["blocked_until"] - moment for row in rows.values() if row["blocked_until"] > moment]
        if blocked:
            return Reservation(False, max(blocked), keys)
        for key in keys:
            row = rows.get(key)
            stale = row is None or moment - (row["last_failure_at"] or 0) > FORGET_AFTER_SECONDS
            failures = 1 if stale else row["failures"] + 1
            db["sign_in_throttle"].upsert(
                {
                    "key": key,
                    "failures": failures,
                    "blocked_until": moment + delay_after(failures),
                    "last_failure_at": moment,
                },
                pk="key",
            )
    return Reservation(True, 0.0, keys)


def attempt_succeeded(db: Database, reservation: Reservation) -> None:
    with db.atomic():
        db.execute("delete from sign_in_throttle where key in (?, ?)", list(reservation.keys))
