"""Template events reach the numbers they concern: `waba_template_status_changed` and
`template_messaging_enabled/disabled` name a WABA (data.id), never a channel (contract section 7). Each channel
keeps its WABA (360dialog's id and Meta's external one, migration m029), so an event reaches every channel of
its WABA when the console reads, whichever came first.

A template's newest event decides: rejected, paused or disabled is a problem until a later event for the same
template says otherwise; template messaging disabled for the WABA is one until it is enabled again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

PROBLEM_STATUSES = frozenset({"REJECTED", "PAUSED", "DISABLED"})
# A problem stays on the work queue this long after its event; the timeline keeps it for good.
TEMPLATE_WINDOW_DAYS = 30
SCAN_EVENTS = 5000
MAX_VALUE_LENGTH = 100
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
    first: at most `limit`. Reads at most SCAN_EVENTS template events."""
    since = ((now or datetime.now(UTC)) - timedelta(days=TEMPLATE_WINDOW_DAYS)).isoformat(timespec="microseconds")
    rows = db.execute(
        "select id, received_at, event_type, waba_id, raw_body from events"
        " where kind = 'template' and waba_id is not null and received_at >= ?"
        " order by received_at desc, id desc limit ?",
        [since, SCAN_EVENTS],
    ).fetchall()
    newest: dict[tuple[str, str], TemplateEvent] = {}
    for row in rows:
        event = read_template_event(*row)
        newest.setdefault((event.waba_id, event.subject), event)
    problems = [event for event in newest.values() if event.is_problem]
    if not problems:
        return []
    channels = _channels_of_wabas(db, {event.waba_id for event in problems})
    found = [TemplateProblem(channel_id, event) for event in problems for channel_id in channels.get(event.waba_id, [])]
    found.sort(key=lambda problem: (problem.event.received_at, problem.channel_id), reverse=True)
    return found[:limit]


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
