"""Stored webhook events: saving a batch (with duplicate detection) and reading them back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.channels import apply_webhook_event
from services.store import utc_now
from services.webhook_events import WebhookEvent


@dataclass(frozen=True)
class SaveResult:
    stored: int
    duplicates: int


def save_event(db: Database, event: WebhookEvent, *, headers: dict[str, str], verdict: str, received_at: str) -> bool:
    """Insert one event and project it; False when it was a duplicate (then only its count moves)."""
    cursor = db.execute(
        """
        insert into events (dedupe_key, event_type, kind, channel_id, client_id, status, raw_body, headers,
                            signature_verdict, received_at, duplicate_count)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
        on conflict (dedupe_key) do update set
            duplicate_count = duplicate_count + 1, last_duplicate_at = excluded.received_at
        returning duplicate_count
        """,
        [
            event.dedupe_key,
            event.event_type,
            event.kind,
            event.channel_id,
            event.client_id,
            event.status,
            event.raw_body,
            json.dumps(headers),
            verdict,
            received_at,
        ],
    )
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


def recent_events(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    return list(db.query("select * from events order by received_at desc, id desc limit ?", [limit]))
