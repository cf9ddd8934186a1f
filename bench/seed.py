"""Fast synthetic data for benchmarks: executemany inside one transaction.

Events go through a staging table and then into `events` many rows per statement, as the receiver's writer
lists them: the full-text index's triggers cost far less that way than one statement per row.
"""

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
EVENT_SPAN_DAYS = 60
BATCH = 50_000
# Only the oldest event holds this word: an "All time" search must find it however many events came since.
OLD_WORD = "quokka"
# One event in this many, the oldest included, is of this channel: its "All time" view has rows at every size.
BENCH_CHANNEL = "ch00000CH"
BENCH_CHANNEL_EVERY = 2000
_EVENT_COLUMNS = (
    "dedupe_key, event_type, kind, channel_id, client_id, status, raw_body, headers, signature_verdict, received_at,"
    " duplicate_count, numbers"
)


def _timestamps(count: int, now: datetime, span_days: int = SPAN_DAYS) -> list[str]:
    """Evenly spread over the last `span_days`, oldest first, as the receiver would have stored them."""
    step = timedelta(days=span_days) / max(count, 1)
    start = now - timedelta(days=span_days)
    return [(start + step * index).isoformat(timespec="microseconds") for index in range(count)]


def seed_events(db: Database, count: int, *, clients: int = 500, channels: int = 2000) -> None:
    """`count` events over the last EVENT_SPAN_DAYS; one in fifty a number written with spaces."""
    rng = random.Random(6)  # noqa: S311 - synthetic benchmark data, not security
    now = datetime.now(UTC)
    stamps = _timestamps(count, now, EVENT_SPAN_DAYS)
    db.execute(f"create temp table seed_events as select {_EVENT_COLUMNS} from events where 0")  # noqa: S608
    with db.atomic():
        for start in range(0, count, BATCH):
            rows = []
            for index in range(start, min(start + BATCH, count)):
                event_type = EVENT_TYPES[index % len(EVENT_TYPES)]
                channel = BENCH_CHANNEL if index % BENCH_CHANNEL_EVERY == 0 else f"ch{rng.randrange(channels):05d}CH"
                client = f"cl{rng.randrange(clients):04d}CL"
                data: dict[str, str] = {"id": channel, "client_id": client}
                numbers = None
                if index % 50 == 0:
                    data["phone_number"] = f"+49 151 {index:07d}"
                    numbers = f"49151{index:07d}"
                if index == 0:
                    data["note"] = OLD_WORD
                body = json.dumps({"id": f"ev{index}", "event": event_type, "data": data})
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
                        numbers,
                    )
                )
            db.conn.executemany(
                f"""
                insert into seed_events ({_EVENT_COLUMNS})
                values (?, ?, 'other', ?, ?, ?, ?, '{{}}', 'ok', ?, ?, ?)
                """,  # noqa: S608 - fixed column names
                rows,
            )
            db.execute(f"insert into events ({_EVENT_COLUMNS}) select * from seed_events order by rowid")  # noqa: S608
            db.execute("delete from seed_events")
    db.execute("drop table seed_events")


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
