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


def _handle_firing(
    db: Database, alert_id: int, *, actor: Person, action: str, marks: dict[str, str], done: Callable[[str], str]
) -> None:
    """Set `marks` (column -> value; the columns are our own) on a firing alert, then audit `action` with the detail
    `done` words for the alert. Raises AlertNotFiring when it no longer fires."""
    assignments = ", ".join(f"{column} = ?" for column in marks)
    with db.atomic():
        row = _firing(db, alert_id)
        db.execute(f"update alerts set {assignments} where id = ?", [*marks.values(), alert_id])  # noqa: S608
    audit.record(
        db,
        **audit_fields(actor),
        action=action,
        outcome="ok",
        channel_id=row["channel_id"],
        detail=done(_described(row)),
    )


def acknowledge(db: Database, alert_id: int, *, actor: Person, clock: Callable[[], datetime] = now_utc) -> None:
    """Mark a firing alert as seen by `actor`. Raises NotAllowed (audited) when the role may not, and
    AlertNotFiring when it has resolved meanwhile."""
    enforce(db, actor, ACTION)
    marks = {"acked_at": iso(clock()), "acked_by": actor.id}
    _handle_firing(
        db, alert_id, actor=actor, action="acknowledge_alert", marks=marks, done=lambda alert: f"acknowledged {alert}"
    )


def snooze(db: Database, alert_id: int, hours: float, *, actor: Person, clock: Callable[[], datetime] = now_utc) -> str:
    """Keep a firing alert quiet for `hours` (at most MAX_SNOOZE_HOURS); returns until when (ISO, UTC).
    Raises ValueError for a duration out of range, NotAllowed (audited), or AlertNotFiring."""
    enforce(db, actor, ACTION)
    if not 0 < hours <= MAX_SNOOZE_HOURS:
        raise ValueError(f"A snooze lasts more than 0 and at most {MAX_SNOOZE_HOURS} hours, not {hours:g}.")
    until = iso(clock() + timedelta(hours=hours))
    _handle_firing(
        db,
        alert_id,
        actor=actor,
        action="snooze_alert",
        marks={"snoozed_until": until, "snoozed_by": actor.id},
        done=lambda alert: f"snoozed {alert} for {hours:g} h, until {utc_text(until, to='minute', zone=True)}",
    )
    return until
