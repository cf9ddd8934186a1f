"""Clients with their numbers, as 360dialog's own hub groups them: one row per client, searched and paged in SQL,
and one client in full: its channels, its redirects and one timeline.

Every query of a page reads through an index (migration m014): the page of clients by when they were first
seen, then its channels by client. A search that cannot use one (a name's middle, a number's digits) reads the
clients, or the channels' digit index, once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from services.channels.labels import ChannelLabel, channel_labels
from services.events.console_search import channel_field_clients, client_condition, read_search
from services.onboarding.redirect_decision import APPLIED_VERDICTS
from services.phone_numbers import DEFAULT_REGION, spelled_out
from services.read_models.channel_list import COUNT_CAP, FUNNEL_STAGES, KEY_STATUS_SQL
from services.read_models.channel_timeline import TimelineEntry, channel_timeline
from services.read_models.redirects import recent_redirects

PAGE_SIZE = 50
NUMBERS_SHOWN = 3
CHANNELS_LISTED = 500
# A client's timeline: its redirects, then each of its most recently changed channels' own entries.
TIMELINE_CHANNELS = 50
TIMELINE_PER_CHANNEL = 100
TIMELINE_LIMIT = 300
REDIRECTS_LISTED = 50


@dataclass(frozen=True)
class ClientRow:
    id: str
    name: str | None
    first_seen_at: str | None
    channels: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    numbers: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """'Cafe Olé (aCL)'; 'client aCL' while the business name is not known."""
        return f"{self.name} ({self.id})" if self.name else f"client {self.id}"


@dataclass(frozen=True)
class ClientChannel:
    label: ChannelLabel
    status: str | None
    key_status: str
    status_changed_at: str | None
    updated_at: str | None


@dataclass(frozen=True)
class ClientTimelineEntry:
    at: str
    channel: str
    what: str
    who: str
    detail: str


@dataclass(frozen=True)
class ClientSearch:
    """A search read once for the Clients page's count and its page: the channels it matches by their own id,
    number or display name are found in one scan between them (the condition then lists their clients)."""

    where: str = ""
    params: tuple[Any, ...] = ()


def client_search(db: Database, search: str, *, region: str = DEFAULT_REGION) -> ClientSearch:
    """Business name, client id, a number in any spelling, a display name or a channel id
    (services.events.console_search)."""
    read = read_search(search, region)
    if not read:
        return ClientSearch()
    condition, params = client_condition(read, channel_field_clients(db, read))
    return ClientSearch(" where " + condition, tuple(params))


def _read_once(db: Database, search: str | ClientSearch, region: str) -> ClientSearch:
    """The search as statements use it: read here when given as typed."""
    return search if isinstance(search, ClientSearch) else client_search(db, search, region=region)


def count_clients(
    db: Database, search: str | ClientSearch = "", *, cap: int = COUNT_CAP, region: str = DEFAULT_REGION
) -> int:
    """How many clients match, counting no further than `cap` (the page shows "cap+")."""
    found = _read_once(db, search, region)
    row = db.execute(
        f"select count(*) from (select 1 from clients {found.where} limit ?)",  # noqa: S608 - fixed fragments
        [*found.params, cap],
    ).fetchone()
    return int(row[0])


def page_clients(
    db: Database,
    search: str | ClientSearch = "",
    *,
    limit: int = PAGE_SIZE,
    offset: int = 0,
    region: str = DEFAULT_REGION,
) -> list[ClientRow]:
    """One page of clients, newest first, each with its channels counted by status and its first numbers."""
    found = _read_once(db, search, region)
    rows = list(
        db.query(
            f"select id, name, first_seen_at from clients {found.where} "  # noqa: S608 - fixed fragments; values are bound
            "order by first_seen_at desc, id desc limit ? offset ?",
            [*found.params, limit, offset],
        )
    )
    return _with_channels(db, rows)


def client_summary(db: Database, client_id: str) -> ClientRow | None:
    rows = list(db.query("select id, name, first_seen_at from clients where id = ?", [client_id]))
    if not rows:
        # Channels may name a client no event or sync has described yet.
        if db.execute("select 1 from channels where client_id = ? limit 1", [client_id]).fetchone() is None:
            return None
        rows = [{"id": client_id, "name": None, "first_seen_at": None}]
    return _with_channels(db, rows)[0]


def _with_channels(db: Database, rows: Sequence[dict[str, Any]]) -> list[ClientRow]:
    ids = [row["id"] for row in rows]
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    counts: dict[str, Counter[str]] = {client_id: Counter() for client_id in ids}
    for row in db.query(
        f"select client_id, coalesce(status, 'unknown') as status, count(*) as n from channels "  # noqa: S608
        f"where client_id in ({marks}) group by 1, 2",
        ids,
    ):
        counts[row["client_id"]][row["status"]] = row["n"]
    numbers: dict[str, list[str]] = {client_id: [] for client_id in ids}
    for row in db.query(
        f"""
        select client_id, phone_number from (
            select client_id, phone_number,
                   row_number() over (partition by client_id order by phone_number) as rank
            from channels where client_id in ({marks}) and phone_number is not null
        ) where rank <= ?
        """,  # noqa: S608 - placeholders only
        [*ids, NUMBERS_SHOWN],
    ):
        numbers[row["client_id"]].append(spelled_out(row["phone_number"]))
    return [
        ClientRow(
            id=row["id"],
            name=row["name"],
            first_seen_at=row["first_seen_at"],
            channels=sum(counts[row["id"]].values()),
            by_status=_in_stage_order(counts[row["id"]]),
            numbers=tuple(numbers[row["id"]]),
        )
        for row in rows
    ]


def _in_stage_order(counts: Counter[str]) -> dict[str, int]:
    """Running first, then each earlier stage, then any other status by name."""
    order = {stage: index for index, stage in enumerate(reversed(FUNNEL_STAGES))}
    return dict(sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def client_channels(db: Database, client_id: str, *, limit: int = CHANNELS_LISTED) -> list[ClientChannel]:
    """The client's channels, most recently changed first, each with its label and key status."""
    rows = db.query(
        f"""
        select channels.id, channels.phone_number, channels.phone_name, channels.status, channels.status_changed_at,
               channels.updated_at, clients.name as client_name, {KEY_STATUS_SQL} as key_status
        from channels left join clients on clients.id = channels.client_id
        where channels.client_id = ? order by channels.updated_at desc, channels.id desc limit ?
        """,  # noqa: S608 - fixed fragment
        [client_id, limit],
    )
    return [
        ClientChannel(
            label=ChannelLabel(row["id"], row["phone_number"], row["phone_name"], client_id, row["client_name"]),
            status=row["status"],
            key_status=row["key_status"],
            status_changed_at=row["status_changed_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]


def client_redirects(db: Database, client_id: str, *, limit: int = REDIRECTS_LISTED) -> list[dict[str, Any]]:
    """The client's redirects, newest first, as the Redirects page lists them."""
    return recent_redirects(db, limit, client_id=client_id)


def _redirect_entries(db: Database, client_id: str, limit: int) -> list[ClientTimelineEntry]:
    """Each redirect once (not once per channel it names), with the link it came back through."""
    rows = list(
        db.query(
            """
            select redirects.received_at, redirects.channels, redirects.revoked, redirects.state_match,
                   redirects.verdict,
                   io_links.operator as link_operator, io_links.created_at as link_created_at
            from redirects left join io_links on io_links.state = redirects.state
            where redirects.client_id = ? order by redirects.id desc limit ?
            """,
            [client_id, limit],
        )
    )
    entries = []
    for row in rows:
        granted, revoked = _ids(row["channels"]), _ids(row["revoked"])
        labels = channel_labels(db, [*granted, *revoked])
        if row["link_created_at"]:
            entries.append(
                ClientTimelineEntry(row["link_created_at"], "", "onboarding link handed out", row["link_operator"], "")
            )
        state = f"state {row['state_match'] or 'not checked'}"
        # A redirect is a claim: only an applied one changed anything.
        said = "redirect" if row["verdict"] in APPLIED_VERDICTS else "redirect (not applied) claims"
        if granted:
            names = ", ".join(labels[channel_id].text for channel_id in granted)
            entries.append(
                ClientTimelineEntry(row["received_at"], names, f"{said}: permission granted", "client", state)
            )
        if revoked:
            names = ", ".join(labels[channel_id].text for channel_id in revoked)
            entries.append(
                ClientTimelineEntry(row["received_at"], names, f"{said}: permission withdrawn", "client", state)
            )
    return entries


def _ids(raw: str | None) -> list[str]:
    try:
        ids = json.loads(raw or "[]")
    except ValueError:
        return []
    return [value for value in ids if isinstance(value, str)] if isinstance(ids, list) else []


def _client_event_entries(db: Database, client_id: str, limit: int) -> list[ClientTimelineEntry]:
    """Webhooks about the client itself (client_created and the like), which name no channel."""
    rows = db.query(
        """
        select received_at, event_type, signature_verdict from events
        where client_id = ? and channel_id is null order by received_at desc limit ?
        """,
        [client_id, limit],
    )
    return [
        ClientTimelineEntry(
            row["received_at"], "", f"webhook {row['event_type']}", "360dialog", f"signature {row['signature_verdict']}"
        )
        for row in rows
    ]


def client_timeline(
    db: Database,
    client_id: str,
    channels: Iterable[ClientChannel] | None = None,
    *,
    channel_limit: int = TIMELINE_CHANNELS,
    limit: int = TIMELINE_LIMIT,
) -> list[ClientTimelineEntry]:
    """Newest first: the client's redirects and webhooks, and the timelines of its `channel_limit` most recently
    changed channels (services.read_models.channel_timeline, without the redirects already told here), each entry naming
    its channel."""
    chosen = list(channels) if channels is not None else client_channels(db, client_id, limit=channel_limit)
    entries = [*_redirect_entries(db, client_id, limit), *_client_event_entries(db, client_id, limit)]
    for channel in chosen[:channel_limit]:
        own: list[TimelineEntry] = channel_timeline(
            db, channel.label.channel_id, limit=TIMELINE_PER_CHANNEL, redirects=False
        )
        entries.extend(
            ClientTimelineEntry(entry.at, channel.label.text, entry.what, entry.who, entry.detail) for entry in own
        )
    return sorted(entries, key=lambda entry: entry.at or "", reverse=True)[:limit]
