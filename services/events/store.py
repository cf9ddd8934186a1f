"""Stored webhook events: the events table's row, and reading events back (the receiver's writer stores them through
services.events.incoming)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.events.console_search import Found, found_by, read_search
from services.events.search import clean as clean_search
from services.events.search import fts_query, is_prefix
from services.events.webhook import WebhookEvent
from services.phone_numbers import DEFAULT_REGION, read_number
from services.spreadsheet import csv_text
from services.sql_where import Where


@dataclass(frozen=True)
class SaveResult:
    stored: int
    duplicates: int


STORED_EVENT_COLUMNS = (
    "dedupe_key, event_type, kind, channel_id, client_id, status, raw_body, headers, signature_verdict, received_at,"
    " phone_digits, numbers, waba_id"
)


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
        event.numbers,
        event.waba_id,
    )


# -- reading: every query below is bounded by a LIMIT, so a page costs the same at 1,000 or 1,000,000 events --

COUNT_CAP = 10_000
CHART_WINDOW = 50_000
# A prefix stands for every word that starts so, each of whose index entries FTS5 reads and merges: its count
# and its chart stop at the newest PREFIX_CAP matches.
PREFIX_CAP = 1_000
EXPORT_MAX_ROWS = 10_000
LIST_COLUMNS = (
    "id",
    "received_at",
    "event_type",
    "channel_id",
    "client_id",
    "status",
    "signature_verdict",
    "duplicate_count",
    "phone_digits",
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
# Chart buckets: the length of the received_at prefix that names one.
BUCKET_LENGTHS = {"minute": 16, "hour": 13, "day": 10}


@dataclass(frozen=True)
class EventFilter:
    event_type: str | None = None
    client_id: str | None = None
    channel_id: str | None = None
    since: str | None = None
    until: str | None = None
    search: str = ""
    verdict: str | None = None
    # Where a number typed in national form is from (Settings.phone_region).
    region: str = DEFAULT_REGION

    @property
    def needs_scan(self) -> bool:
        """True when the filter cannot be answered from the hourly counts alone."""
        return bool(self.client_id or self.channel_id or self.verdict or self.search_text)

    @property
    def search_text(self) -> str:
        """The search as it is run: control characters out, trimmed and cut (services.events.search.clean)."""
        return clean_search(self.search)

    @property
    def match(self) -> str | None:
        """The full-text query for the search, None without one (services.events.search)."""
        if not self.search_text:
            return None
        number = read_number(self.search_text, self.region)
        return fts_query(self.search_text, number.international if number else ())

    def found(self, db: Database) -> Found:
        """The channels and clients the search names (services.events.console_search): their events match too,
        whether or not a payload spells the number or the name out."""
        return found_by(db, read_search(self.search_text, self.region)) if self.match is not None else Found()

    @property
    def count_cap(self) -> int:
        """Where counting these events stops (and the page shows "cap+")."""
        return PREFIX_CAP if is_prefix(self.search_text) else COUNT_CAP

    @property
    def chart_window(self) -> int:
        """How many of the newest matching events a chart that must scan them counts."""
        return PREFIX_CAP if is_prefix(self.search_text) else CHART_WINDOW


class SearchFailed(Exception):
    """The full-text index could not answer a search (a damaged index, or a query it refused)."""

    def __init__(self, error: sqlite3.Error) -> None:
        super().__init__(
            f"The search could not run ({type(error).__name__} from the full-text index). "
            "Try other words, or clear the search: the other filters work without it."
        )


@contextmanager
def _searching(event_filter: EventFilter) -> Iterator[None]:
    """A database error while a search runs is the search's (SearchFailed); without one it stays what it is."""
    try:
        yield
    except sqlite3.Error as error:
        if event_filter.match is None:
            raise
        raise SearchFailed(error) from None


def _columns(names: Iterable[str]) -> str:
    return ", ".join(f"e.{name}" for name in names)


def _filters(event_filter: EventFilter) -> Where:
    """The conditions every reading of events shares: the type, client, channel, verdict and time range."""
    where = Where()
    where.equals("e.event_type", event_filter.event_type)
    where.equals("e.client_id", event_filter.client_id)
    where.equals("e.channel_id", event_filter.channel_id)
    where.equals("e.signature_verdict", event_filter.verdict)
    return where.time_range("e.received_at", event_filter.since, event_filter.until)


def _matching(
    event_filter: EventFilter,
    columns: str,
    *,
    limit: int,
    before: tuple[str, int] | None = None,
    found: Found | None = None,
) -> tuple[str, list[Any]]:
    """A SELECT of `columns` (of `events e`) for the newest `limit` events that match, after `before`.

    Without a search: newest first by (received_at, id), on the events' indexes. With one, the full-text index
    answers (the search sees every stored event), in one of two ways:
    - with a client or channel, that index of events leads and each of its events is looked up in the
      full-text index by id: a channel's events are few next to a common word's;
    - otherwise the full-text index leads, newest first by id (ids grow with arrival: the writer lists events
      in the order they were received), so a common word stops at `limit` and a rare one costs its few hits.
      A time range also bounds the ids it reads.
    A search that names channels, clients or numbers (`found`) also finds their events, on the events' channel,
    client and number indexes: the newest `limit` of those and of the full-text index's matches, merged.
    A search with no word in it matches nothing."""
    filters = _filters(event_filter)
    match = event_filter.match
    if event_filter.search_text and match is None:
        return f"select {columns} from events e where 0", []  # noqa: S608 - fixed fragments
    if match is not None and found:
        # The newest matches of each kind, each found its own way and bounded by `limit`, then merged.
        by_words, word_params = _matching(event_filter, "e.id", limit=limit, before=before)
        by_found, found_params = _found_matching(event_filter, found, limit=limit, before=before)
        sql = (
            f"select {columns} from events e where e.id in "  # noqa: S608 - fixed fragments
            f"(select id from ({by_words}) union select id from ({by_found}))"
            " order by e.received_at desc, e.id desc limit ?"
        )
        return sql, [*word_params, *found_params, limit]
    if match is None or event_filter.client_id or event_filter.channel_id:
        if match is not None:
            filters.condition("exists (select 1 from events_fts where events_fts match ? and rowid = e.id)", match)
        if before is not None:
            filters.condition("(e.received_at, e.id) < (?, ?)", *before)
        sql = f"select {columns} from events e{filters.sql} order by e.received_at desc, e.id desc limit ?"  # noqa: S608
        return sql, [*filters.params, limit]
    words = Where().condition("events_fts match ?", match)
    if event_filter.since:
        words.condition(
            "f.rowid >= (select id from events where received_at >= ? order by received_at limit 1)", event_filter.since
        )
    if event_filter.until:
        words.condition(
            "f.rowid <= (select id from events where received_at < ? order by received_at desc limit 1)",
            event_filter.until,
        )
    if before is not None:
        words.condition("f.rowid < ?", before[1])
    words.condition("e.id = f.rowid").extend(filters)
    sql = f"select {columns} from events_fts f cross join events e{words.sql} order by f.rowid desc limit ?"  # noqa: S608
    return sql, [*words.params, limit]


def _found_matching(
    event_filter: EventFilter, found: Found, *, limit: int, before: tuple[str, int] | None
) -> tuple[str, list[Any]]:
    """The ids of the newest `limit` events, after `before`, that are about what the search found (its channels,
    its clients, its numbers) and pass the other filters. Each kind is looked up in its own index of events and
    the few found are sorted: the time index would read every event to find none."""
    filters = _filters(event_filter)
    about: list[str] = []
    about_params: list[str] = []
    for column, values in (
        ("channel_id", found.channel_ids),
        ("client_id", found.client_ids),
        ("phone_digits", found.numbers),
    ):
        if values:
            about.append(f"select id from events where {column} in (select value from json_each(?))")  # noqa: S608
            about_params.append(json.dumps(values))
    filters.condition(f"e.id in ({' union '.join(about)})", *about_params)
    if before is not None:
        filters.condition("(e.received_at, e.id) < (?, ?)", *before)
    # The unary + keeps the planner off the time index for the order.
    sql = f"select e.id from events e{filters.sql} order by +e.received_at desc, e.id desc limit ?"  # noqa: S608
    return sql, [*filters.params, limit]


def page_events(
    db: Database, event_filter: EventFilter, *, limit: int = 50, before: tuple[str, int] | None = None
) -> list[dict[str, Any]]:
    """One page, newest first. `before` is the (received_at, id) of the last row of the previous page."""
    with _searching(event_filter):
        sql, params = _matching(
            event_filter, _columns(LIST_COLUMNS), limit=limit, before=before, found=event_filter.found(db)
        )
        return list(db.query(sql, params))


def count_events(db: Database, event_filter: EventFilter, *, cap: int | None = None) -> int:
    """Matching events, counted no further than `cap` (shown as "cap+"; by default the filter's count_cap): a
    refresh never counts a million rows."""
    with _searching(event_filter):
        sql, params = _matching(event_filter, "1", limit=cap or event_filter.count_cap, found=event_filter.found(db))
        return int(db.execute(f"select count(*) from ({sql})", params).fetchone()[0])  # noqa: S608


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


def events_over_time(db: Database, event_filter: EventFilter, bucket: str = "hour") -> list[dict[str, Any]]:
    """Events per bucket ("minute", "hour" or "day": the received_at prefix "2026-11-20T01:02", "2026-11-20T01",
    "2026-11-20") and type, oldest first. Hours and days under type and time filters add up the hourly counts the
    insert trigger keeps; anything else counts the newest matching events, up to the filter's chart_window."""
    length = BUCKET_LENGTHS[bucket]
    if not event_filter.needs_scan and bucket != "minute":
        hours = Where().equals("event_type", event_filter.event_type)
        # The hours a range touches, its last one included: the chart shows whole hours.
        if event_filter.since:
            hours.condition("hour >= ?", event_filter.since[:13])
        if event_filter.until:
            hours.condition("hour <= ?", event_filter.until[:13])
        sql = f"""
            select substr(hour, 1, {length}) as bucket, event_type, sum(events) as events
            from event_hours{hours.sql} group by 1, 2 order by 1, 2
        """  # noqa: S608 - a fixed length and fixed fragments
        return list(db.query(sql, hours.params))
    with _searching(event_filter):
        sql, params = _matching(
            event_filter, "e.received_at, e.event_type", limit=event_filter.chart_window, found=event_filter.found(db)
        )
        return list(
            db.query(
                f"""
                select substr(received_at, 1, {length}) as bucket, event_type, count(*) as events
                from ({sql}) group by 1, 2 order by 1, 2
                """,  # noqa: S608 - a fixed length and fixed fragments
                params,
            )
        )


# The distinct values of an indexed column, each found by one seek in its index: a handful of seeks, not a scan
# of the table (or of every hour's counts).
_DISTINCT_SQL = """
    with recursive found(value) as (
        select min({column}) from events
        union all
        select (select min({column}) from events where {column} > value) from found where value is not null
    )
    select value from found where value is not null
"""


def event_types(db: Database) -> list[str]:
    return [value for (value,) in db.execute(_DISTINCT_SQL.format(column="event_type"))]


def signature_verdicts(db: Database) -> list[str]:
    """The verdicts stored events carry."""
    return [value for (value,) in db.execute(_DISTINCT_SQL.format(column="signature_verdict"))]


def events_csv(db: Database, event_filter: EventFilter, *, max_rows: int = EXPORT_MAX_ROWS) -> str:
    """The filtered view as CSV, newest first, at most `max_rows` rows."""
    with _searching(event_filter):
        sql, params = _matching(event_filter, "e.id", limit=max_rows, found=event_filter.found(db))
        rows = db.query(
            f"""
            select {", ".join(EXPORT_COLUMNS)} from events where id in ({sql}) order by received_at desc, id desc
            """,  # noqa: S608 - fixed column names and fragments
            params,
        )
        return csv_text(EXPORT_COLUMNS, rows)
