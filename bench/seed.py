"""Fast synthetic data for benchmarks: executemany inside one transaction."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

EVENT_TYPES = (
    "channel_created",
    "channel_submitted",
    "channel_ready",
    "channel_status_running",
    "phone_number_quality_changed",
    "client_created",
    "account_violation",
)
STATUSES = ("created", "pending", "submitted", "ready", "running", "running", "running", "running")
SPAN_DAYS = 30
BATCH = 50_000


def _timestamps(count: int, now: datetime) -> list[str]:
    """Evenly spread over the last SPAN_DAYS, oldest first, as the receiver would have stored them."""
    step = timedelta(days=SPAN_DAYS) / max(count, 1)
    start = now - timedelta(days=SPAN_DAYS)
    return [(start + step * index).isoformat(timespec="microseconds") for index in range(count)]


def seed_events(db: Database, count: int, *, clients: int = 500, channels: int = 2000) -> None:
    rng = random.Random(6)  # noqa: S311 - synthetic benchmark data, not security
    now = datetime.now(UTC)
    stamps = _timestamps(count, now)
    sql = """
        insert into events (dedupe_key, event_type, kind, channel_id, client_id, status, raw_body, headers,
                            signature_verdict, received_at, duplicate_count)
        values (?, ?, 'other', ?, ?, ?, ?, '{}', 'ok', ?, ?)
    """
    with db.atomic():
        for start in range(0, count, BATCH):
            rows = []
            for index in range(start, min(start + BATCH, count)):
                event_type = EVENT_TYPES[index % len(EVENT_TYPES)]
                channel = f"ch{rng.randrange(channels):05d}CH"
                client = f"cl{rng.randrange(clients):04d}CL"
                body = json.dumps(
                    {"id": f"ev{index}", "event": event_type, "data": {"id": channel, "client_id": client}}
                )
                rows.append(
                    (
                        f"id:ev{index}",
                        event_type,
                        channel,
                        client,
                        "running",
                        body,
                        stamps[index],
                        1 if index % 50 == 0 else 0,
                    )
                )
            db.conn.executemany(sql, rows)


def seed_channels(db: Database, count: int, *, clients: int = 1000) -> None:
    rng = random.Random(6)  # noqa: S311 - synthetic benchmark data, not security
    now = datetime.now(UTC)
    stamps = _timestamps(count, now)
    with db.atomic():
        db.conn.executemany(
            "insert into clients (id, name, first_seen_at, updated_at) values (?, ?, ?, ?)",
            [(f"cl{index:05d}CL", f"Client {index}", stamps[0], stamps[0]) for index in range(clients)],
        )
        for start in range(0, count, BATCH):
            rows = []
            for index in range(start, min(start + BATCH, count)):
                rows.append(
                    (
                        f"ch{index:06d}CH",
                        f"cl{rng.randrange(clients):05d}CL",
                        STATUSES[index % len(STATUSES)],
                        f"+49151{index:07d}",
                        f"Shop {index}",
                        "GREEN",
                        "TIER_1K",
                        "granted",
                        0,
                        stamps[index],
                        stamps[index],
                        "bench",
                    )
                )
            db.conn.executemany(
                """
                insert into channels (id, client_id, status, phone_number, phone_name, quality_rating,
                    messaging_limit, permission, revoked, status_changed_at, updated_at, last_source)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                rows,
            )
