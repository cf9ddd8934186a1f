"""Reconcile channels with the Partner API: catches webhooks that never arrived, and corrects the ones that lied.

The Partner API is the authority on a channel's status: a sync applies what it reads, a step back in the
lifecycle included, and records each change (an audit row and the report). One transaction per page of
channels: the page's rows as they were are read in one query, and only what differs is written, with its audit
rows, in that same transaction. Memory stays flat in the number of channels: the report keeps counts, and
only the first REPORT_LIMIT new channels and changes by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.channels.projection import API_CHANNEL_FIELDS, api_channel_facts, api_client_facts, write_api_channels
from services.partner_api import DEFAULT_PAGE_SIZE, PartnerApi, PartnerApiError
from services.store import utc_now

# What a change report names, in this order; account_mode, the WABA, the portfolio and an end are written and
# reported as well.
SYNCED_FIELDS = (
    "status",
    "quality_rating",
    "messaging_limit",
    "phone_number",
    "phone_name",
    "client_id",
    "account_mode",
    "waba_id",
    "waba_external_id",
    "portfolio_id",
    "terminated_at",
)
REPORT_LIMIT = 1000
_CLIENT_FIELDS = ("name", "partner_payload")


@dataclass(frozen=True)
class ChannelChange:
    channel_id: str
    field: str
    before: str | None
    after: str | None


@dataclass
class SyncReport:
    """What a sync read and changed. `new_channels`, `changes` and `left_running` hold the first REPORT_LIMIT;
    the counts hold everything."""

    seen: int = 0
    total: int = 0
    new_channels: list[str] = field(default_factory=list)
    changes: list[ChannelChange] = field(default_factory=list)
    left_running: list[str] = field(default_factory=list)
    new_count: int = 0
    changed_count: int = 0
    left_running_count: int = 0

    @property
    def changed_channels(self) -> int:
        return self.changed_count

    @property
    def truncated(self) -> bool:
        """True when the lists name fewer channels than the counts hold."""
        listed = len({change.channel_id for change in self.changes})
        return self.new_count > len(self.new_channels) or self.changed_count > listed

    def summary(self) -> str:
        text = f"{self.seen} channels read, {self.new_count} new, {self.changed_count} changed"
        return text + (f", {self.left_running_count} left running" if self.left_running_count else "")


def _describe(changes: list[ChannelChange]) -> str:
    return "; ".join(f"{change.field}: {change.before or '-'} -> {change.after or '-'}" for change in changes)


def _pages(api: PartnerApi) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The Partner API's channels a page at a time, with the total it reports."""
    channels = api.iter_channels(page_size=DEFAULT_PAGE_SIZE)
    while True:
        page = list(islice(channels, DEFAULT_PAGE_SIZE))
        if not page:
            return
        yield [channel for channel, _ in page], page[-1][1]


def _rows(db: Database, table: str, columns: Iterable[str], ids: list[str]) -> dict[str, dict[str, Any]]:
    names = ", ".join(("id", *columns))
    cursor = db.execute(
        f"select {names} from {table} where id in (select value from json_each(?))",  # noqa: S608 - our own names
        [json.dumps(ids)],
    )
    keys = [column[0] for column in cursor.description]
    return {row[0]: dict(zip(keys, row, strict=True)) for row in cursor}


class _Page:
    """One page: what to write, and what changed, worked out against the rows as they were."""

    def __init__(self, db: Database, channels: list[dict[str, Any]]) -> None:
        facts: dict[str, dict[str, Any]] = {}
        clients: dict[str, dict[str, Any]] = {}
        for channel in channels:
            fact = api_channel_facts(channel)
            if fact is None:
                continue
            facts[fact["id"]] = fact  # a channel listed twice on a page: the later one
            if fact["client_id"]:
                clients[fact["client_id"]] = api_client_facts(channel, fact["client_id"])
        before = _rows(db, "channels", API_CHANNEL_FIELDS, list(facts))
        known_clients = _rows(db, "clients", _CLIENT_FIELDS, list(clients))
        self.clients = [
            client
            for client_id, client in clients.items()
            if client_id not in known_clients
            or any(
                client[name] is not None and client[name] != known_clients[client_id][name] for name in _CLIENT_FIELDS
            )
        ]
        self.writes: list[dict[str, Any]] = []
        self.inserts: list[dict[str, Any]] = []
        self.new: list[str] = []
        self.changed: list[tuple[str, list[ChannelChange]]] = []
        for channel_id, fact in facts.items():
            old = before.get(channel_id)
            if old is None:
                self.new.append(channel_id)
                self.inserts.append(fact)
                continue
            # A field the API leaves out keeps its value (the upsert's coalesce).
            changes = [
                ChannelChange(channel_id, name, old[name], fact[name])
                for name in SYNCED_FIELDS
                if fact[name] is not None and fact[name] != old[name]
            ]
            if changes:
                self.changed.append((channel_id, changes))
                self.writes.append(fact)


def _left_running(changes: list[ChannelChange]) -> bool:
    return any(change.field == "status" and change.before == "running" for change in changes)


def sync_channels(
    db: Database,
    api: PartnerApi,
    *,
    actor: Person,
    on_progress: Callable[[int, int], None] | None = None,
    run_id: int | None = None,
    in_each_page: Callable[[Database], None] | None = None,
    report: SyncReport | None = None,
) -> SyncReport:
    """Page through every partner channel, apply each page in one transaction, and report what changed.

    `on_progress(done, total)` is called after each page; `in_each_page(db)` runs inside each page's
    transaction (the sync lease renews itself there); `run_id` ties the audit rows to a sync run; a `report`
    given is filled in as the pages go, so what was done before a failure stays known.
    Raises NotAllowed (audited) when the actor's role may not sync, PartnerApiError when a page cannot be read;
    the pages before it stay synced."""
    enforce(db, actor, "sync_channels")
    report = report if report is not None else SyncReport()
    audit_id = audit.record(db, **audit_fields(actor), action="sync_channels", outcome="started")
    try:
        for channels, total in _pages(api):
            report.seen += len(channels)
            report.total = total
            _apply_page(db, channels, actor, run_id, report, in_each_page)
            if on_progress is not None:
                on_progress(report.seen, max(total, report.seen))
    except Exception as error:
        audit.set_outcome(db, audit_id, "failed", f"after {report.seen} channels: {type(error).__name__}")
        raise
    audit.set_outcome(db, audit_id, "ok", report.summary())
    return report


def _apply_page(
    db: Database,
    channels: list[dict[str, Any]],
    actor: Person,
    run_id: int | None,
    report: SyncReport,
    in_each_page: Callable[[Database], None] | None,
) -> None:
    with db.atomic():
        page = _Page(db, channels)
        now = utc_now()
        write_api_channels(db, page.writes, page.clients, now=now, new=page.inserts)
        rows = [
            audit.entry(
                actor.id,
                "sync",
                now,
                channel_id=channel_id,
                outcome="new",
                detail="first seen",
                run_id=run_id,
                role=actor.role,
            )
            for channel_id in page.new
        ]
        for channel_id, changes in page.changed:
            outcome = "left running" if _left_running(changes) else "changed"
            rows.append(
                audit.entry(
                    actor.id,
                    "sync",
                    now,
                    channel_id=channel_id,
                    outcome=outcome,
                    detail=_describe(changes),
                    run_id=run_id,
                    role=actor.role,
                )
            )
        audit.record_many(db, rows)
        if in_each_page is not None:
            in_each_page(db)
    report.new_count += len(page.new)
    report.new_channels.extend(page.new[: REPORT_LIMIT - len(report.new_channels)])
    for channel_id, changes in page.changed:
        report.changed_count += 1
        if report.changed_count <= REPORT_LIMIT:
            report.changes.extend(changes)
        if _left_running(changes):
            report.left_running_count += 1
            if len(report.left_running) < REPORT_LIMIT:
                report.left_running.append(channel_id)


def sync_one_channel(db: Database, api: PartnerApi, channel_id: str, *, actor: Person) -> str:
    """Read one channel from the Partner API and apply it as a full sync would; returns what changed ('' when
    nothing did). Raises NotAllowed (audited) when the actor's role may not sync, PartnerApiError, with kind
    not_found when 360dialog does not know the channel."""
    enforce(db, actor, "sync_channels", channel_id=channel_id)
    found = api.list_channels(filters={"id": channel_id}, limit=1)["partner_channels"]
    if not found:
        raise PartnerApiError("not_found", "360dialog lists no channel with this id")
    report = SyncReport()
    _apply_page(db, found[:1], actor, None, report, None)
    if report.new_channels:
        return "first seen"
    return _describe(report.changes)
