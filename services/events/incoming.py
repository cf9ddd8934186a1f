"""Events the receiver has acknowledged and not yet listed: a durable 2xx that writes few pages.

The transaction a 2xx waits for stores a delivery's events in `incoming_events`, a table with one index. The
events table's five indexes and the channel projection would make that transaction write about forty pages
for a dozen events, and SQLite writes each page with two system calls that cost several microseconds apiece
on ext4. The writer lists incoming events afterwards, many at a time (services.channels.event_listing): moves them into
`events` and projects them onto channels and clients, in the transaction that also deletes them here. Until then
they are stored, counted and recognised as duplicates, but not yet listed in the console.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.events.store import STORED_EVENT_COLUMNS, event_row
from services.events.webhook import ChannelFacts, WebhookEvent

_INSERT_SQL = f"""
    insert into incoming_events ({STORED_EVENT_COLUMNS}, quality_rating, messaging_limit, phone_number,
                                 phone_name, client_name, waba_external_id, portfolio_id, terminated_at)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""  # noqa: S608 - fixed column names
# A duplicate moves its original's count, wherever the original is by now.
_COUNT_DUPLICATE_SQL = {
    table: f"""
        update {table} set duplicate_count = duplicate_count + 1, last_duplicate_at = ? where dedupe_key = ?
    """  # noqa: S608 - the two table names above
    for table in ("events", "incoming_events")
}
_KNOWN_KEYS_SQL = """
    select dedupe_key from events where dedupe_key in (select value from json_each(:keys))
    union all
    select dedupe_key from incoming_events where dedupe_key in (select value from json_each(:keys))
"""
_OLDEST_SQL = """
    select event_type, kind, channel_id, client_id, status, quality_rating, messaging_limit, phone_number,
           phone_name, client_name, waba_id, waba_external_id, portfolio_id, terminated_at, id, received_at
    from incoming_events order by id limit ?
"""
# The receiver checks events before storing here, so a key is never in both; should it be (a bug, a hand
# edit), the event counts as a duplicate rather than stopping every later event from being listed.
_MOVE_SQL = f"""
    insert into events ({STORED_EVENT_COLUMNS}, duplicate_count, last_duplicate_at)
    select {STORED_EVENT_COLUMNS}, duplicate_count, last_duplicate_at from incoming_events where id <= ? order by id
    on conflict (dedupe_key) do update set
        duplicate_count = duplicate_count + 1 + excluded.duplicate_count,
        last_duplicate_at = coalesce(excluded.last_duplicate_at, excluded.received_at)
"""  # noqa: S608 - fixed column names


@dataclass(frozen=True)
class IncomingEvent(ChannelFacts):
    """An incoming event as the channel projection reads it back."""

    id: int
    received_at: str


def store_incoming(db: Database, items: Sequence[tuple[WebhookEvent, str, str]], *, received_at: str) -> list[bool]:
    """Store (event, headers as JSON, verdict) items. Per item, True when it was new: its dedupe key is neither
    listed, nor incoming, nor an earlier item's. A duplicate is not stored; its original's count moves.
    Call inside a transaction."""
    if not items:
        return []
    keys = [event.dedupe_key for event, _, _ in items]
    seen = {key for (key,) in db.execute(_KNOWN_KEYS_SQL, {"keys": json.dumps(keys, ensure_ascii=False)})}
    is_new: list[bool] = []
    rows = []
    duplicates = []
    for (event, headers, verdict), key in zip(items, keys, strict=True):
        new = key not in seen
        is_new.append(new)
        if new:
            seen.add(key)
            rows.append(_row(event, headers, verdict, received_at))
        else:
            duplicates.append((received_at, key))
    db.conn.executemany(_INSERT_SQL, rows)
    if duplicates:
        for sql in _COUNT_DUPLICATE_SQL.values():
            db.conn.executemany(sql, duplicates)
    return is_new


def _row(event: WebhookEvent, headers: str, verdict: str, received_at: str) -> tuple[Any, ...]:
    return (
        *event_row(event, headers, verdict, received_at),
        event.quality_rating,
        event.messaging_limit,
        event.phone_number,
        event.phone_name,
        event.client_name,
        event.waba_external_id,
        event.portfolio_id,
        event.terminated_at,
    )


def oldest_incoming(db: Database, limit: int) -> list[IncomingEvent]:
    """Up to `limit` of the oldest incoming events, in the order they were received."""
    return [IncomingEvent(*row) for row in db.execute(_OLDEST_SQL, [limit])]


def move_into_events(db: Database, through_id: int) -> None:
    """Move the incoming events up to `through_id` into `events`, in order. Call inside a transaction."""
    db.execute(_MOVE_SQL, [through_id])


def forget_incoming(db: Database, through_id: int) -> None:
    """Delete the incoming events up to `through_id`, once listed. Call inside a transaction."""
    db.execute("delete from incoming_events where id <= ?", [through_id])


def incoming_count(db: Database) -> int:
    return db.execute("select count(*) from incoming_events").fetchone()[0]
