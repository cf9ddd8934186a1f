"""Template events reach the numbers they concern: `waba_template_status_changed` and
`template_messaging_enabled/disabled` name a WABA (data.id), never a channel (contract section 7). Each channel
keeps its WABA (360dialog's id and Meta's external one, migration m029), so an event reaches every channel of
its WABA when the console reads, whichever came first.

A template's newest event decides: rejected, paused or disabled is a problem until a later event for the same
template says otherwise; template messaging disabled for the WABA is one until it is enabled again."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.channels.read_memo import ReadMemo, newest_matches

PROBLEM_STATUSES = frozenset({"REJECTED", "PAUSED", "DISABLED"})
# A problem stays on the work queue this long after its event; the timeline keeps it for good.
TEMPLATE_WINDOW_DAYS = 30
SCAN_EVENTS = 5000
MAX_VALUE_LENGTH = 100
# The template events the work queue reads (a partial index holds them).
_IS_TEMPLATE = "kind = 'template' and waba_id is not null"
_problems: ReadMemo[KeptProblems] = ReadMemo()
_WABAS_OF_CHANNEL = (
    "(select waba_id from channels where id = :id union select waba_external_id from channels where id = :id)"
)


@dataclass(frozen=True)
class TemplateEvent:
    event_id: int
    received_at: str
    event_type: str
    waba_id: str
    # What the event is about ("template spring_sale (en)", "template messaging") and what it says of it.
    subject: str
    status: str
    reason: str | None

    @property
    def is_problem(self) -> bool:
        return self.status.upper() in PROBLEM_STATUSES

    @property
    def summary(self) -> str:
        because = f" ({self.reason})" if self.reason else ""
        return f"{self.subject}: {self.status.lower()}{because}"


@dataclass(frozen=True)
class TemplateProblem:
    channel_id: str
    event: TemplateEvent


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:MAX_VALUE_LENGTH] or None


def read_template_event(event_id: int, received_at: str, event_type: str, waba_id: str, raw_body: str) -> TemplateEvent:
    """What a stored template event says, read tolerantly: the template under data.template (or flat in data),
    its name, language, status (or event) and reason."""
    try:
        body = json.loads(raw_body)
    except (ValueError, RecursionError):
        body = {}
    data = body.get("data") if isinstance(body, dict) and isinstance(body.get("data"), dict) else {}
    if event_type != "waba_template_status_changed":
        status = "disabled" if event_type.endswith("disabled") else "enabled"
        return TemplateEvent(event_id, received_at, event_type, waba_id, "template messaging", status, None)
    template = data.get("template") if isinstance(data.get("template"), dict) else data
    name = _text(template.get("name")) or _text(template.get("message_template_name")) or "a template"
    language = _text(template.get("language")) or _text(template.get("message_template_language"))
    status = _text(template.get("status")) or _text(template.get("event")) or "changed"
    subject = f"template {name} ({language})" if language else f"template {name}"
    reason = _text(template.get("reason")) or _text(template.get("rejected_reason"))
    return TemplateEvent(event_id, received_at, event_type, waba_id, subject, status, reason)


def channel_template_events(db: Database, channel_id: str, limit: int) -> list[TemplateEvent]:
    """The template events of the channel's WABA, newest first (at most `limit`)."""
    rows = db.execute(
        f"""
        select id, received_at, event_type, waba_id, raw_body from events
        where kind = 'template' and waba_id is not null and waba_id in {_WABAS_OF_CHANNEL}
        order by received_at desc, id desc limit :limit
        """,  # noqa: S608 - a fixed fragment
        {"id": channel_id, "limit": limit},
    ).fetchall()
    return [read_template_event(*row) for row in rows]


def template_problems(db: Database, limit: int, *, now: datetime | None = None) -> list[TemplateProblem]:
    """Per channel and template, the newest event of the last TEMPLATE_WINDOW_DAYS when it is a problem, newest
    first (then by channel, last first): at most `limit`. Reads at most SCAN_EVENTS template events, and only when
    a template event arrived or one it read left the window; the channels of each problem's WABA are read afresh."""
    since = ((now or datetime.now(UTC)) - timedelta(days=TEMPLATE_WINDOW_DAYS)).isoformat(timespec="microseconds")
    last = tuple(db.execute("select id, received_at from events order by id desc limit 1").fetchone() or (0, ""))
    kept = _problems.kept(db)
    if kept is None or not _still_good(db, kept, since):
        kept = _newest_problems(db, since)
    _problems.keep(db, replace(kept, seen=last))
    return newest_matches(
        kept.problems,
        _with_their_channels(db),
        limit,
        item_time=lambda event: event.received_at,
        match_time=lambda problem: problem.event.received_at,
        order=lambda found: found.sort(key=lambda p: (p.event.received_at, p.channel_id), reverse=True),
        chunk=50,
    )


def _still_good(db: Database, kept: KeptProblems, since: str) -> bool:
    """No event it read has left the window, the last event it saw is still there as it was (a database emptied
    and filled again reuses ids), and no template event came after it."""
    if kept.oldest_read is not None and kept.oldest_read < since:
        return False
    seen_id, seen_at = kept.seen
    if seen_id and db.execute("select received_at from events where id = ?", [seen_id]).fetchone() != (seen_at,):
        return False
    return not db.execute(
        f"select 1 from events where id > ? and {_IS_TEMPLATE} limit 1",  # noqa: S608
        [seen_id],
    ).fetchone()


def _with_their_channels(db: Database) -> Callable[[Sequence[TemplateEvent]], list[TemplateProblem]]:
    def matches(events: Sequence[TemplateEvent]) -> list[TemplateProblem]:
        channels = _channels_of_wabas(db, {event.waba_id for event in events})
        return [
            TemplateProblem(channel_id, event) for event in events for channel_id in channels.get(event.waba_id, [])
        ]

    return matches


@dataclass(frozen=True)
class KeptProblems:
    problems: list[TemplateEvent]  # newest first
    oldest_read: str | None  # when the oldest event the read took in arrived
    # The last event of any kind (id, when it arrived) when the read was last found good.
    seen: tuple[int, str] = (0, "")


def _newest_problems(db: Database, since: str) -> KeptProblems:
    rows = db.execute(
        f"select id, received_at, event_type, waba_id, raw_body from events where {_IS_TEMPLATE} and received_at >= ?"  # noqa: S608
        " order by received_at desc, id desc limit ?",
        [since, SCAN_EVENTS],
    ).fetchall()
    newest: dict[tuple[str, str], TemplateEvent] = {}
    for row in rows:
        event = read_template_event(*row)
        newest.setdefault((event.waba_id, event.subject), event)
    problems = [event for event in newest.values() if event.is_problem]
    return KeptProblems(problems, rows[-1][1] if rows else None)


def _channels_of_wabas(db: Database, wabas: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    rows = db.execute(
        """
        select waba_id, id from channels where waba_id in (select value from json_each(:wabas)) and ended is null
        union
        select waba_external_id, id from channels
        where waba_external_id in (select value from json_each(:wabas)) and ended is null
        order by 2
        """,
        {"wabas": json.dumps(sorted(wabas))},
    )
    for waba, channel_id in rows:
        found.setdefault(waba, []).append(channel_id)
    return found
