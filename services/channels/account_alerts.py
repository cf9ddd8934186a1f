"""Account violations and restrictions, matched to their channels by the number's digits.

360dialog names the number of such an event only by `data.phone_number` (contract section 5), so the event
changes no channel row. The match is made here, when the console reads: channels and these events both keep
the number's digits under an index (migration m011), so the receiver does no extra work per request, any
spelling of a number matches any other, and an alert that came before its channel was known finds it once
it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.channels.read_memo import ReadMemo, kept_under, newest_matches
from services.events.webhook import ACCOUNT_ALERT_NAMES

# An alert stays on the attention list this long after it arrived; the timeline keeps it for good.
ALERT_WINDOW_DAYS = 30
ALERT_LIMIT = 50
NO_CHANNEL_NOTE = "no channel with this number"
NO_NUMBER_NOTE = "names no phone number"
MAX_VALUE_LENGTH = 100
MAX_RESTRICTIONS = 5
MAX_CHANNELS_NAMED = 5
_TYPES = ", ".join("?" for _ in ACCOUNT_ALERT_NAMES)
# The newest alert of each kind per number, through the event type index. SQLite's min/max rule gives the other
# bare column (the id) from the newest row of each group. No body: only the rows shown need theirs.
_NEWEST_BY_NUMBER_SQL = f"""
    select phone_digits, event_type, max(received_at) as received_at, id from events
    where event_type in ({_TYPES}) and received_at >= ? and phone_digits is not null
    group by phone_digits, event_type
    order by received_at desc, phone_digits
"""  # noqa: S608 - placeholders only
# What the newest-by-number list is made from: a new alert, a deleted one or one leaving the window changes it
# (the newest time too, so a database emptied and filled again is not taken for the one before).
_WINDOW_KEY_SQL = (
    f"select max(id), count(*), max(received_at) from events where event_type in ({_TYPES}) and received_at >= ?"  # noqa: S608
)
_newest_by_number: ReadMemo[tuple[Hashable, list[tuple[str, str, str, int]]]] = ReadMemo()


@dataclass(frozen=True)
class AccountAlert:
    event_id: int
    event_type: str
    received_at: str
    channel_id: str
    summary: str

    @property
    def label(self) -> str:
        """ "account violation", "account restriction"."""
        return self.event_type.replace("_", " ")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:MAX_VALUE_LENGTH] or None


def _restrictions(data: dict[str, Any]) -> list[str]:
    info = data.get("restriction_info")
    items = info if isinstance(info, list) else [info] if isinstance(info, dict) else []
    found = []
    for item in items[:MAX_RESTRICTIONS]:
        if not isinstance(item, dict):
            continue
        kind = _text(item.get("restriction_type")) or "restriction"
        until = _text(item.get("expiration"))
        found.append(f"{kind} until {until}" if until else kind)
    flat = _text(data.get("restriction_type"))
    if flat and not found:
        found.append(flat)
    return found


def alert_summary(payload: Any) -> str:
    """What an account violation or restriction says, read tolerantly: `violation_type` (flat, or under
    `violation_info`) and any restrictions (`restriction_info` as a list or an object, or a flat
    `restriction_type`), each with its expiry when given."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return "no details given"
    info = data.get("violation_info")
    violation = _text(data.get("violation_type")) or (
        _text(info.get("violation_type")) if isinstance(info, dict) else None
    )
    parts = [f"violation type {violation}"] if violation else []
    restrictions = _restrictions(data)
    if restrictions:
        parts.append("restricted: " + ", ".join(restrictions))
    return "; ".join(parts) or "no violation type given"


def _summary_of(raw_body: str | None) -> str:
    try:
        return alert_summary(json.loads(raw_body or ""))
    except (ValueError, RecursionError):
        return "the stored body is not JSON"


def recent_channel_alerts(db: Database, limit: int = ALERT_LIMIT, *, now: datetime | None = None) -> list[AccountAlert]:
    """The newest violation and the newest restriction of each channel that had one in the last
    ALERT_WINDOW_DAYS, newest first (then by channel): at most `limit`, however many events and channels there
    are. The events' side is kept until such an event arrives or leaves the window; channels are read afresh."""
    since = ((now or datetime.now(UTC)) - timedelta(days=ALERT_WINDOW_DAYS)).isoformat(timespec="microseconds")
    key = tuple(db.execute(_WINDOW_KEY_SQL, [*ACCOUNT_ALERT_NAMES, since]).fetchone())
    newest = kept_under(
        _newest_by_number, db, key, lambda: db.execute(_NEWEST_BY_NUMBER_SQL, [*ACCOUNT_ALERT_NAMES, since]).fetchall()
    )
    found = newest_matches(
        newest,
        _with_their_channels(db),
        limit,
        item_time=lambda row: row[2],
        match_time=lambda row: row[2],
        order=_newest_then_by_channel,
    )
    bodies = _bodies(db, [event_id for *_, event_id in found])
    return [
        AccountAlert(event_id, event_type, received_at, channel_id, _summary_of(bodies.get(event_id)))
        for channel_id, event_type, received_at, event_id in found
    ]


def _bodies(db: Database, event_ids: list[int]) -> dict[int, str | None]:
    rows = db.execute(
        "select id, raw_body from events where id in (select value from json_each(?))", [json.dumps(event_ids)]
    )
    return dict(rows.fetchall())


def _with_their_channels(db: Database) -> Callable[[Sequence[tuple]], list[tuple]]:
    def matches(rows: Sequence[tuple]) -> list[tuple]:
        channels = _channels_by_digits(db, (row[0] for row in rows))
        return [(channel_id, *row[1:]) for row in rows for channel_id in channels.get(row[0], [])]

    return matches


def _newest_then_by_channel(rows: list[tuple]) -> None:
    rows.sort(key=lambda row: row[0])
    rows.sort(key=lambda row: row[2], reverse=True)  # stable: channels in order within one time


def channel_alerts(db: Database, channel_id: str, limit: int = ALERT_LIMIT) -> list[AccountAlert]:
    """Every alert for the channel's number, newest first (at most `limit`)."""
    row = db.execute("select phone_digits from channels where id = ?", [channel_id]).fetchone()
    if row is None or not row[0]:
        return []
    rows = db.execute(
        "select id, event_type, received_at, raw_body from events where phone_digits = ?"
        " order by received_at desc, id desc limit ?",
        [row[0], limit],
    ).fetchall()
    return [
        AccountAlert(event_id, event_type, received_at, channel_id, _summary_of(raw_body))
        for event_id, event_type, received_at, raw_body in rows
    ]


def _channels_by_digits(db: Database, digits: Iterable[str]) -> dict[str, list[str]]:
    wanted = sorted(set(digits))
    if not wanted:
        return {}
    found: dict[str, list[str]] = {}
    rows = db.execute(
        "select phone_digits, id from channels where phone_digits in (select value from json_each(?)) order by id",
        [json.dumps(wanted)],
    )
    for number, channel_id in rows:
        found.setdefault(number, []).append(channel_id)
    return found


def alert_notes(db: Database, events: Sequence[dict[str, Any]]) -> dict[int, str]:
    """For the account alerts among listed events (rows with `id`, `event_type`, `phone_digits`): which
    channel has that number, or that none does. One indexed query for the whole page."""
    alerts = [event for event in events if event.get("event_type") in ACCOUNT_ALERT_NAMES]
    channels = _channels_by_digits(db, (event["phone_digits"] for event in alerts if event.get("phone_digits")))
    notes = {}
    for event in alerts:
        if not event.get("phone_digits"):
            notes[event["id"]] = NO_NUMBER_NOTE
            continue
        ids = channels.get(event["phone_digits"])
        if not ids:
            notes[event["id"]] = NO_CHANNEL_NOTE
            continue
        named = ", ".join(ids[:MAX_CHANNELS_NAMED]) + (
            f" and {len(ids) - MAX_CHANNELS_NAMED} more" if len(ids) > MAX_CHANNELS_NAMED else ""
        )
        notes[event["id"]] = f"{'channel' if len(ids) == 1 else 'channels'} {named}"
    return notes
