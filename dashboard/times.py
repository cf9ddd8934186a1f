"""Times as people read them: "3 min ago", with the exact UTC time (to the second) beside it or on hover.

The database keeps ISO-8601 UTC text with microseconds (services.store.utc_now); pages show it through these
functions only, so every page says a time the same way. The exact time is services.times.utc_text's, which
the alerts and the command-line tools use too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.times import parse_utc as parse
from services.times import utc_text

# (shown up to this many seconds, seconds per unit, unit, plural): the first that fits is used.
_SCALES = (
    (3570, 60, "min", "min"),
    (36 * 3600, 3600, "h", "h"),
    (45 * 86_400, 86_400, "day", "days"),
    (545 * 86_400, 30 * 86_400, "month", "months"),
    (float("inf"), 365 * 86_400, "year", "years"),
)


def exact(stamp: str | datetime | None, *, empty: str = "") -> str:
    """ "2026-11-20 10:00:00 UTC": to the second, no microseconds. Text that is no time comes back as it was."""
    return utc_text(stamp, missing=empty, zone=True)


def relative(stamp: str | datetime | None, *, now: datetime | None = None, empty: str = "") -> str:
    """ "just now", "3 min ago", "2 h ago", "5 days ago"; "in 4 min" for a time still to come."""
    moment = parse(stamp)
    if moment is None:
        return empty if stamp in (None, "") else str(stamp)
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "in a moment" if future else "just now"
    _, size, unit, units = next(scale for scale in _SCALES if seconds < scale[0])
    amount = max(1, round(seconds / size))
    text = f"{amount} {unit if amount == 1 else units}"
    return f"in {text}" if future else f"{text} ago"


def human(stamp: str | datetime | None, *, now: datetime | None = None, empty: str = "") -> str:
    """ "3 min ago (2026-11-20 10:00:00 UTC)": relative, with the exact time beside it."""
    moment = parse(stamp)
    if moment is None:
        return empty if stamp in (None, "") else str(stamp)
    return f"{relative(moment, now=now)} ({exact(moment)})"
