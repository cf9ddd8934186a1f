"""Stored webhook events: saving a batch (with duplicate detection) and reading them back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.channels.projection import apply_webhook_event
from services.events.webhook import WebhookEvent
from services.spreadsheet import csv_text
from services.store import like_pattern, utc_now


@dataclass(frozen=True)
class SaveResult:
    stored: int
    duplicates: int


STORED_EVENT_COLUMNS = (
    "dedupe_key, event_type, kind, channel_id, client_id, status, raw_body, headers, signature_verdict, received_at,"
    " phone_digits"
)
_INSERT_EVENT_SQL = f"""
    insert into events ({STORED_EVENT_COLUMNS}, duplicate_count)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
    on conflict (dedupe_key) do update set
        duplicate_count = duplicate_count + 1, last_duplicate_at = excluded.received_at
"""  # noqa: S608 - fixed column names


def event_row(event: WebhookEvent, headers: str, verdict: str, received_at: str) -> tuple[Any, ...]:
    """The values of an events row, in the order of STORED_EVENT_COLUMNS."""
    return (
        event.dedupe_key,
        event.event_type,
        event.kind,
        event.channel_id,
        event.client_id,
        event.status,
        event.raw_body,
        headers,
        verdict,
        received_at,
        event.phone_digits,
    )


def save_event(db: Database, event: WebhookEvent, *, headers: dict[str, str], verdict: str, received_at: str) -> bool:
    """Insert one event and project it; False when it was a duplicate (then only its count moves)."""
    cursor = db.execute(
        _INSERT_EVENT_SQL + " returning duplicate_count", event_row(event, json.dumps(headers), verdict, received_at)
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


# -- reading: every query below is bounded by a LIMIT, so a page costs the same at 1,000 or 1,000,000 events --

COUNT_CAP = 10_000
SEARCH_WINDOW = 20_000
CHART_WINDOW = 50_000
EXPORT_MAX_ROWS = 10_000
SEARCH_MAX_LENGTH = 200
LIST_COLUMNS = (
    "id, received_at, event_type, channel_id, client_id, status, signature_verdict, duplicate_count, phone_digits"
)
EXPORT_COLUMNS = (
    "id",
    "received_at",
    "event_type",
    "kind",
    "channel_id",
    "client_id",
    "status",
    "signature_verdict",
    "duplicate_count",
    "last_duplicate_at",
    "raw_body",
)


@dataclass(frozen=True)
class EventFilter:
    event_type: str | None = None
    client_id: str | None = None
    channel_id: str | None = None
    since: str | None = None
    until: str | None = None
    search: str = ""

    @property
    def needs_scan(self) -> bool:
        """True when the filter cannot be answered from the hourly counts alone."""
        return bool(self.client_id or self.channel_id or self.search_text)

    @property
    def search_text(self) -> str:
        return self.search.strip()[:SEARCH_MAX_LENGTH]


def _where(event_filter: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("event_type", event_filter.event_type),
        ("client_id", event_filter.client_id),
        ("channel_id", event_filter.channel_id),
    ):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if event_filter.since:
        clauses.append("received_at >= ?")
        params.append(event_filter.since)
    if event_filter.until:
        clauses.append("received_at < ?")
        params.append(event_filter.until)
    return (" where " + " and ".join(clauses)) if clauses else "", params


def _source(event_filter: EventFilter, columns: str) -> tuple[str, list[Any]]:
    """A FROM source for the filter. A payload search looks inside the newest SEARCH_WINDOW events only,
    so its cost is bounded whatever the table size."""
    where, params = _where(event_filter)
    if not event_filter.search_text:
        return f"(select {columns} from events{where})", params  # noqa: S608 - fixed fragments, bound values
    return (
        f"""(select {columns} from (
                select {columns}, raw_body from events{where} order by received_at desc, id desc limit ?
             ) where raw_body like ? escape '\\')""",  # noqa: S608 - fixed fragments, bound values
        [*params, SEARCH_WINDOW, like_pattern(event_filter.search_text)],
    )


def page_events(
    db: Database, event_filter: EventFilter, *, limit: int = 50, before: tuple[str, int] | None = None
) -> list[dict[str, Any]]:
    """One page, newest first. `before` is the (received_at, id) of the last row of the previous page."""
    source, params = _source(event_filter, LIST_COLUMNS)
    cursor_clause = ""
    if before is not None:
        cursor_clause = "where (received_at, id) < (?, ?)"
        params = [*params, before[0], before[1]]
    sql = f"select * from {source} {cursor_clause} order by received_at desc, id desc limit ?"  # noqa: S608
    return list(db.query(sql, [*params, limit]))


def count_events(db: Database, event_filter: EventFilter, *, cap: int = COUNT_CAP) -> int:
    """Matching events, counted no further than `cap` (shown as "cap+"): a refresh never counts a million rows."""
    source, params = _source(event_filter, "id")
    row = next(db.query(f"select count(*) as n from (select 1 from {source} limit ?)", [*params, cap]))  # noqa: S608
    return int(row["n"])


def event_detail(db: Database, event_id: int) -> dict[str, Any] | None:
    """One stored event with its payload parsed (None when the body is not JSON) and its headers."""
    rows = list(db.query("select * from events where id = ?", [event_id]))
    if not rows:
        return None
    row = rows[0]
    try:
        payload = json.loads(row["raw_body"])
    except (TypeError, ValueError):
        payload = None
    try:
        headers = json.loads(row["headers"] or "{}")
    except ValueError:
        headers = {}
    return {**row, "payload": payload, "headers": headers if isinstance(headers, dict) else {}}


def events_per_hour(db: Database, event_filter: EventFilter) -> list[dict[str, Any]]:
    """Events per hour and type. Type and time filters read the hourly counts the insert trigger keeps;
    other filters aggregate over the newest CHART_WINDOW matching events."""
    if not event_filter.needs_scan:
        clauses, params = [], []
        if event_filter.event_type:
            clauses.append("event_type = ?")
            params.append(event_filter.event_type)
        if event_filter.since:
            clauses.append("hour >= ?")
            params.append(event_filter.since[:13])
        if event_filter.until:
            clauses.append("hour <= ?")
            params.append(event_filter.until[:13])
        where = (" where " + " and ".join(clauses)) if clauses else ""
        sql = f"select hour, event_type, events from event_hours{where} order by hour"  # noqa: S608
        return list(db.query(sql, params))
    source, params = _source(event_filter, "id, received_at, event_type")
    return list(
        db.query(
            f"""
            select substr(received_at, 1, 13) as hour, event_type, count(*) as events
            from (select * from {source} order by received_at desc, id desc limit ?)
            group by 1, 2 order by 1
            """,  # noqa: S608
            [*params, CHART_WINDOW],
        )
    )


def event_types(db: Database) -> list[str]:
    return [row["event_type"] for row in db.query("select distinct event_type from event_hours order by 1")]


def events_csv(db: Database, event_filter: EventFilter, *, max_rows: int = EXPORT_MAX_ROWS) -> str:
    """The filtered view as CSV, newest first, at most `max_rows` rows."""
    columns = ", ".join(EXPORT_COLUMNS)
    source, params = _source(event_filter, "id, received_at")
    rows = db.query(
        f"""
        select {columns} from events where id in (
            select id from {source} order by received_at desc, id desc limit ?
        ) order by received_at desc, id desc
        """,  # noqa: S608
        [*params, max_rows],
    )
    return csv_text(EXPORT_COLUMNS, rows)
