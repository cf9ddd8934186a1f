"""Stored times as people read them, in UTC: the one formatter pages, alerts and commands share.

The database keeps ISO-8601 UTC text with microseconds (services.store.utc_now). Whatever shows a time goes
through `utc_text`, so "2026-11-20 10:00:05" reads the same on a page, in an alert and in a command's output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Precision = Literal["second", "minute", "clock"]
# "clock" is the time of day alone, for a moment the reader knows is today or soon (a snooze's end).
_FORMATS: dict[Precision, str] = {"second": "%Y-%m-%d %H:%M:%S", "minute": "%Y-%m-%d %H:%M", "clock": "%H:%M"}


def parse_utc(moment: str | datetime | None) -> datetime | None:
    """An aware UTC datetime from stored text ("2026-11-20T10:00:00.123456+00:00", a date, or "...Z");
    None for nothing or for text that is not a time."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, datetime):
        parsed = moment
    else:
        try:
            parsed = datetime.fromisoformat(str(moment).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def utc_text(moment: str | datetime | None, *, missing: str = "", to: Precision = "second", zone: bool = False) -> str:
    """ "2026-11-20 10:00:05" (`to="minute"`: "2026-11-20 10:00"; `to="clock"`: "10:00"), with " UTC" after it
    when `zone`. `missing` stands for no time at all; text that is no time comes back as it was."""
    parsed = parse_utc(moment)
    if parsed is None:
        return missing if moment in (None, "") else str(moment)
    text = parsed.strftime(_FORMATS[to])
    return f"{text} UTC" if zone else text
