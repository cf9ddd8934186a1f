"""One search for the Events, Channels and Clients pages: what an operator types, read once, matched the same way.

- A number in any spelling: "+34 600 111 222", "0034 600-111-222", "34600111222" and the national "600111222"
  all find +34 600 111 222 (services.phone_numbers reads them with phonenumbers). Part of a number ("111 222")
  still finds the numbers that hold those digits.
- Names with accents and case folded, each word a prefix: "cafe ole" and "Caf" find "Café Olé" (FTS5's
  unicode61 tokenizer with remove_diacritics; migration m018 indexes channel and client names).
- Ids and names by any part of them, as typed ("CH12" finds a channel id holding it).

A search finds channels, and the clients those channels or their own names match; the Events page adds the
events of those channels and clients to what the payloads' own full-text index finds (services.events.store).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.events.search import clean
from services.phone_numbers import DEFAULT_REGION, NumberReadings, read_number
from services.store import like_pattern
from services.whatsapp import phone_digits

SEARCH_MAX_LENGTH = 100
# What is made only of digits and what people write between them, and how many digits make it worth matching
# as part of a number.
PHONE_SEARCH = re.compile(r"^[+\d\s().\-/]+$")
MIN_PHONE_DIGITS = 3
# A name search looks for at most this many words, each a prefix.
MAX_NAME_WORDS = 8
# The Events page looks up the events of at most this many channels (and clients) a search names.
MAX_RESOLVED = 500
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Search:
    """What was typed, read for each way it can match."""

    text: str
    number: NumberReadings | None = None
    part_of_number: str | None = None  # the digits typed, to find the numbers that hold them
    names: str | None = None  # an FTS5 query over the name indexes: each word typed, as a prefix

    def __bool__(self) -> bool:
        return bool(self.text)

    @property
    def exact_numbers(self) -> list[str]:
        return list(self.number.international) if self.number else []


def read_search(text: str, region: str = DEFAULT_REGION) -> Search:
    """What was typed (trimmed, control characters out, at most SEARCH_MAX_LENGTH characters), read."""
    text = clean(text)[:SEARCH_MAX_LENGTH]
    if not text:
        return Search("")
    if not PHONE_SEARCH.match(text):
        return Search(text, names=_names_query(text))
    digits = phone_digits(text)
    part = digits if digits and len(digits) >= MIN_PHONE_DIGITS else None
    return Search(text, read_number(text, region), part)


def _names_query(text: str) -> str | None:
    # Each word quoted (FTS5 takes it literally, whatever it holds) and followed by *: words that start so. A
    # search of digits alone is a number: its parts as name prefixes ("1"*) would read much of the index for
    # nothing the LIKE on names does not find.
    words = _WORD.findall(text)[:MAX_NAME_WORDS]
    return " ".join(f'"{word}"*' for word in words) or None


def channel_condition(search: Search) -> tuple[str, list[Any]]:
    """An SQL condition on `channels` (with its bound values) that holds for the channels the search finds."""
    pattern = like_pattern(search.text)
    own, own_params = _channel_fields_condition(search)
    clauses = [
        own,
        "channels.client_id like ? escape '\\'",
        "channels.client_id in (select id from clients where name like ? escape '\\')",
    ]
    params: list[Any] = [*own_params, pattern, pattern]
    if search.names:
        clauses.append("channels.id in (select channel_id from channel_names where channel_names match ?)")
        clauses.append("channels.client_id in (select client_id from client_names where client_names match ?)")
        params.extend([search.names, search.names])
    return "(" + " or ".join(clauses) + ")", params


def _channel_fields_condition(search: Search) -> tuple[str, list[Any]]:
    """The channel's own id, number and display name: what a search finds in the channel row itself."""
    pattern = like_pattern(search.text)
    clauses = [
        "channels.id like ? escape '\\'",
        "channels.phone_number like ? escape '\\'",
        "channels.phone_name like ? escape '\\'",
    ]
    params: list[Any] = [pattern] * 3
    # Numbers are looked up in their indexes, each once (a generated column is computed anew for every row a
    # scan reads): the channels found join the scan's other matches by rowid, which each index holds.
    if search.part_of_number:
        # The digits' index is read whole (a number's middle), never the channel rows.
        clauses.append(
            "channels.rowid in (select rowid from channels indexed by idx_channels_phone_digits"
            " where phone_digits like ?)"
        )
        params.append(f"%{search.part_of_number}%")
    if search.number:
        clauses.append(
            "channels.rowid in (select rowid from channels where phone_digits in (select value from json_each(?)))"
        )
        params.append(json.dumps(search.exact_numbers))
        if search.number.national:
            clauses.append("channels.rowid in (select rowid from channels where phone_national = ?)")
            params.append(search.number.national)
    return "(" + " or ".join(clauses) + ")", params


def client_condition(search: Search, channel_clients: Sequence[str]) -> tuple[str, list[Any]]:
    """An SQL condition on `clients`: the client's own name or id, or any of its channels, matches.

    Each way a channel can match is its own list of client ids, built once: `channel_clients` are those of the
    channels whose own fields match, read beforehand in one scan (`channel_field_clients`), so that statements
    sharing the condition (a count and its page) do not each scan the channels; the names' matches come from
    their index. (One condition over the channels, as `channel_condition`, would probe every list of names again
    for each of the channels.) A channel matching through its client's name or id needs no list: the client's
    own clauses find it."""
    pattern = like_pattern(search.text)
    clauses = ["clients.name like ? escape '\\'", "clients.id like ? escape '\\'"]
    params: list[Any] = [pattern, pattern]
    if search.names:
        clauses.append("clients.id in (select client_id from client_names where client_names match ?)")
        clauses.append(
            "clients.id in (select channels.client_id from channel_names"
            " join channels on channels.id = channel_names.channel_id where channel_names match ?)"
        )
        params.extend([search.names, search.names])
    clauses.append("clients.id in (select value from json_each(?))")
    return "(" + " or ".join(clauses) + ")", [*params, json.dumps(list(channel_clients))]


def channel_field_clients_sql(search: Search) -> tuple[str, list[Any]]:
    """The one scan of the channels for what only their rows hold (id, number, display name): their clients.
    Deduplicated by the caller: `distinct` or `client_id is not null` has SQLite walk the client index and read
    each row through it, six times the scan's time at 100,000 channels."""
    own, params = _channel_fields_condition(search)
    return f"select client_id from channels where {own}", params  # noqa: S608 - fixed fragments


def channel_field_clients(db: Database, search: Search) -> list[str]:
    """The clients of the channels whose own id, number or display name the search matches."""
    rows = db.execute(*channel_field_clients_sql(search))
    return [client_id for client_id in dict.fromkeys(row[0] for row in rows) if client_id is not None]


@dataclass(frozen=True)
class Found:
    """The channels and clients a search names, and the numbers it may be: the Events page also shows what
    happened to them, in events that may not spell out the name or the number."""

    channel_ids: tuple[str, ...] = ()
    client_ids: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.channel_ids or self.client_ids or self.numbers)


def found_by(db: Database, search: Search, *, limit: int = MAX_RESOLVED) -> Found:
    """The channels a number or a name in the search finds exactly (not by a part of an id or a number) with
    their numbers, and the clients its name finds, at most `limit` of each: each looked up in its own index. Ids
    and numbers' parts are left to the events' own full-text index."""
    if search.number:
        rows = db.execute(
            "select id, phone_digits from channels where phone_digits in (select value from json_each(?))"
            " union select id, phone_digits from channels where phone_national = ? limit ?",
            [json.dumps(search.exact_numbers), search.number.national, limit],
        ).fetchall()
        numbers = dict.fromkeys([*search.exact_numbers, *(digits for _, digits in rows if digits)])
        return Found(tuple(channel_id for channel_id, _ in rows), (), tuple(numbers))
    if not search.names:
        return Found()
    client_ids = [
        row[0]
        for row in db.execute(
            "select distinct client_id from client_names where client_names match ? limit ?", [search.names, limit]
        )
    ]
    named = db.execute(
        "select channel_id from channel_names where channel_names match ? limit ?", [search.names, limit]
    ).fetchall()
    of_clients = db.execute(
        "select id from channels where client_id in (select value from json_each(?)) limit ?",
        [json.dumps(client_ids), limit],
    ).fetchall()
    channel_ids = dict.fromkeys(row[0] for row in [*named, *of_clients])
    return Found(tuple(channel_ids)[:limit], tuple(client_ids))
