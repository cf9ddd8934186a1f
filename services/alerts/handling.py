"""What an operator does about a firing alert from the Alerts page: acknowledge it (someone is on it) or snooze
it (quiet until a time). Both are role-guarded and audited. A snoozed alert is news again when its time comes
while it still fires, or at once when its condition gets worse (services.alerts.ledger.record_scans)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.alerts.ledger import iso, now_utc
from services.alerts.rules import RULES_BY_KEY
from services.times import utc_text

ACTION = "handle_alert"
# Longer than a week is not a snooze but a rule to turn off (its CONSOLE_ALERT_... setting).
MAX_SNOOZE_HOURS = 7 * 24


class AlertNotFiring(LookupError):
    """The alert resolved (or never was) before the operator's action reached it; the message says so."""


def _firing(db: Database, alert_id: int) -> dict[str, Any]:
    rows = list(db.query("select * from alerts where id = ? and state = 'firing'", [alert_id]))
    if not rows:
        raise AlertNotFiring(f"Alert #{alert_id} is no longer firing: nothing to do.")
    return rows[0]


def _described(row: dict[str, Any]) -> str:
    rule = RULES_BY_KEY.get(row["rule"])
    return f"alert #{row['id']} ({rule.title if rule else row['rule']}, {row['subject']})"


def acknowledge(db: Database, alert_id: int, *, actor: Person, clock: Callable[[], datetime] = now_utc) -> None:
    """Mark a firing alert as seen by `actor`. Raises NotAllowed (audited) when the role may not, and
    AlertNotFiring when it has resolved meanwhile."""
    enforce(db, actor, ACTION)
    at = iso(clock())
    with db.atomic():
        row = _firing(db, alert_id)
        db.execute("update alerts set acked_at = ?, acked_by = ? where id = ?", [at, actor.id, alert_id])
    audit.record(
        db,
        **audit_fields(actor),
        action="acknowledge_alert",
        outcome="ok",
        channel_id=row["channel_id"],
        detail=f"acknowledged {_described(row)}",
    )


def snooze(db: Database, alert_id: int, hours: float, *, actor: Person, clock: Callable[[], datetime] = now_utc) -> str:
    """Keep a firing alert quiet for `hours` (at most MAX_SNOOZE_HOURS); returns until when (ISO, UTC).
    Raises ValueError for a duration out of range, NotAllowed (audited), or AlertNotFiring."""
    enforce(db, actor, ACTION)
    if not 0 < hours <= MAX_SNOOZE_HOURS:
        raise ValueError(f"A snooze lasts more than 0 and at most {MAX_SNOOZE_HOURS} hours, not {hours:g}.")
    until = iso(clock() + timedelta(hours=hours))
    with db.atomic():
        row = _firing(db, alert_id)
        db.execute("update alerts set snoozed_until = ?, snoozed_by = ? where id = ?", [until, actor.id, alert_id])
    audit.record(
        db,
        **audit_fields(actor),
        action="snooze_alert",
        outcome="ok",
        channel_id=row["channel_id"],
        detail=f"snoozed {_described(row)} for {hours:g} h, until {utc_text(until, to='minute', zone=True)}",
    )
    return until
