"""The receiver's own bookkeeping: accepted, duplicate and rejected counts, and the recent rejections."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.events.incoming import incoming_count

# The refusal log: at most this many rows, and at most KEPT_PER_SOURCE of them from any one sender (an
# address, or an IPv6 /64: one host is often given a whole /64, and could rotate through it).
KEPT_REJECTIONS = 1000
KEPT_PER_SOURCE = 20
COUNTER_NAMES = ("accepted", "duplicate", "rejected")


@dataclass(frozen=True)
class Rejection:
    """A request refused before storage; `reason` is ours (never the body), `source` the peer address."""

    at: str
    source: str | None
    status: int
    reason: str


@dataclass(frozen=True)
class ReceiverHealth:
    last_event_at: str | None
    accepted: int
    duplicate: int
    rejected: int
    recent_rejections: list[dict[str, Any]]
    # Stored and acknowledged, not yet listed on the Events page (services.events.incoming).
    waiting_to_be_listed: int = 0
    # How the newest listed event was signed ("valid", "valid (base64)", ...): tells which form 360dialog uses.
    last_signature: str | None = None


def add_to_counters(db: Database, changes: dict[str, int]) -> None:
    """Move the running totals; call inside the transaction that stores what they count."""
    for name, amount in changes.items():
        if amount:
            db.execute(
                "insert into receiver_counters (name, value) values (?, ?) "
                "on conflict (name) do update set value = value + excluded.value",
                [name, amount],
            )


# Called for every row of the log at each write that adds refusals; most rows come from a few addresses.
@functools.lru_cache(maxsize=4096)
def sender(source: str | None) -> str | None:
    """Whose share of the refusal log a source counts against: its IPv4 address, or its IPv6 /64."""
    try:
        address = ipaddress.ip_address(source or "")
    except ValueError:
        return source
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return source


def record_rejections(
    db: Database, rejections: list[Rejection], keep: int = KEPT_REJECTIONS, per_source: int = KEPT_PER_SOURCE
) -> None:
    """Append to the rejection log, keeping the newest `per_source` rows of each sender and `keep` in all, so
    that a flood from one address (or one IPv6 /64) cannot push the others out; call inside a transaction."""
    if not rejections:
        return
    db.conn.executemany(
        "insert into receiver_rejections (at, source, status, reason) values (?, ?, ?, ?)",
        [(item.at, item.source, item.status, item.reason) for item in rejections],
    )
    db.conn.create_function("sender", 1, sender, deterministic=True)
    db.execute(
        """
        delete from receiver_rejections where id in (
            select id from (
                select id, row_number() over (partition by sender(source) order by id desc) as newest
                from receiver_rejections
            ) where newest > ?
        )
        """,
        [per_source],
    )
    # By rows, not by ids: the rows a flood lost to its per-source cap still used up ids.
    db.execute(
        "delete from receiver_rejections where id < "
        "(select id from receiver_rejections order by id desc limit 1 offset ?)",
        [keep - 1],
    )


def last_event_at(db: Database) -> str | None:
    """When the newest stored event was received, whether listed already or still incoming."""
    return db.execute(
        "select max(at) from (select max(received_at) as at from events"
        " union all select max(received_at) from incoming_events)"
    ).fetchone()[0]


def receiver_health(db: Database, recent: int = 50) -> ReceiverHealth:
    """What the console shows about the receiver, read from the database the receiver writes."""
    counters = dict.fromkeys(COUNTER_NAMES, 0)
    counters.update({row["name"]: row["value"] for row in db.query("select name, value from receiver_counters")})
    rows = list(
        db.query(
            "select at, source, status, reason from receiver_rejections order by id desc limit ?",
            [recent],
        )
    )
    return ReceiverHealth(
        last_event_at=last_event_at(db),
        accepted=counters["accepted"],
        duplicate=counters["duplicate"],
        rejected=counters["rejected"],
        recent_rejections=rows,
        waiting_to_be_listed=incoming_count(db),
        last_signature=_newest_signature(db),
    )


def _newest_signature(db: Database) -> str | None:
    row = db.execute("select signature_verdict from events order by id desc limit 1").fetchone()
    return row[0] if row else None
