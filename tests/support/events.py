"""Stored events for tests: a delivery's events written straight into the events table and projected onto their
channels, as the receiver's writer would leave them once listed, without a receiver or a writer."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlite_utils import Database

from services.channels.projection import apply_webhook_event
from services.events.store import STORED_EVENT_COLUMNS, SaveResult, event_row
from services.events.webhook import WebhookEvent
from services.store import utc_now

_INSERT_EVENT_SQL = f"""
    insert into events ({STORED_EVENT_COLUMNS}, duplicate_count)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
    on conflict (dedupe_key) do update set
        duplicate_count = duplicate_count + 1, last_duplicate_at = excluded.received_at
    returning duplicate_count
"""


def save_event(db: Database, event: WebhookEvent, *, headers: dict[str, str], verdict: str, received_at: str) -> bool:
    """Insert one event and project it; False when it was a duplicate (then only its count moves)."""
    cursor = db.execute(_INSERT_EVENT_SQL, event_row(event, json.dumps(headers), verdict, received_at))
    is_new = cursor.fetchone()[0] == 0
    if is_new:
        apply_webhook_event(db, event)
    return is_new


def save_events(db: Database, events: Iterable[WebhookEvent], *, headers: dict[str, str], verdict: str) -> SaveResult:
    """Save a delivery's events in one transaction."""
    received_at = utc_now()
    stored = duplicates = 0
    with db.atomic():
        for event in events:
            if save_event(db, event, headers=headers, verdict=verdict, received_at=received_at):
                stored += 1
            else:
                duplicates += 1
    return SaveResult(stored, duplicates)
