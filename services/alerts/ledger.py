"""The alerts' record: one open alert per subject and condition until it resolves, and what to send about them.

`record_scans` compares what the rules find with the open alerts, in one transaction: a new condition opens an
alert, one that no longer holds resolves it. `compose` turns the news no message has carried yet into messages
(each on its own, or one digest every CONSOLE_ALERT_DIGEST_MINUTES; past CONSOLE_ALERT_MAX_PER_HOUR, one summary
of what was held back) and queues a delivery of each message to each destination, in the same transaction that
marks the news as carried. So nothing is lost when the process stops, and nothing is composed twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.alerts import wording
from services.alerts.destinations import Destination
from services.alerts.rules import RULES, Scan
from services.alerts.wording import Notice, Text
from services.channels.labels import channel_labels
from services.settings import AlertSettings

# Messages the cap counts: all but test alerts.
CAPPED_KINDS = ("alert", "resolved", "digest", "summary")
RECENT_DELIVERIES = 100


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Changes:
    fired: int = 0
    resolved: int = 0


def record_scans(db: Database, scans: dict[str, Scan], now: datetime) -> Changes:
    """Open an alert for each new finding and resolve each open one its rule no longer finds (only for rules
    that read every subject this round). A rule that is off leaves its alerts as they are."""
    fired = resolved = 0
    at = iso(now)
    with db.atomic():
        open_alerts: dict[tuple[str, str], int] = {
            (row["rule"], row["subject"]): row["id"]
            for row in db.query("select id, rule, subject from alerts where state = 'firing'")
        }
        for rule, scan in scans.items():
            found = {finding.subject: finding for finding in scan.findings}
            for subject, finding in found.items():
                if (rule, subject) in open_alerts:
                    continue
                db.execute(
                    "insert into alerts (rule, subject, channel_id, state, detail, fired_at)"
                    " values (?, ?, ?, 'firing', ?, ?)",
                    [rule, subject, finding.channel_id, finding.detail, at],
                )
                fired += 1
            if not scan.complete:
                continue
            for (open_rule, subject), alert_id in open_alerts.items():
                if open_rule == rule and subject not in found:
                    db.execute("update alerts set state = 'resolved', resolved_at = ? where id = ?", [at, alert_id])
                    resolved += 1
    return Changes(fired, resolved)


def _notices(db: Database) -> list[Notice]:
    rows = db.query(
        """
        select * from alerts
        where fired_message_id is null or (state = 'resolved' and resolved_message_id is null)
        order by id
        """
    )
    notices = [
        Notice(
            row["id"],
            row["rule"],
            row["subject"],
            row["channel_id"],
            row["detail"] or "",
            row["fired_at"],
            row["resolved_at"],
            fired=row["fired_message_id"] is None,
            resolved=row["state"] == "resolved" and row["resolved_message_id"] is None,
        )
        for row in rows
    ]
    return sorted(notices, key=lambda notice: notice.at)


def _sent_in_the_last_hour(db: Database, now: datetime) -> int:
    marks = ", ".join("?" for _ in CAPPED_KINDS)
    return db.execute(
        f"select count(*) from alert_messages where kind in ({marks}) and created_at > ?",  # noqa: S608 - placeholders
        [*CAPPED_KINDS, iso(now - timedelta(hours=1))],
    ).fetchone()[0]


def queue_message(
    db: Database, text: Text, destinations: Sequence[Destination], now: datetime, *, notices: int, operator: str | None
) -> tuple[int, list[int]]:
    """Record a message and a pending delivery of it to each destination; inside the caller's transaction.
    Returns the message's id and its deliveries' ids."""
    at = iso(now)
    message_id = db.execute(
        "insert into alert_messages (kind, level, title, body, notices, operator, created_at)"
        " values (?, ?, ?, ?, ?, ?, ?)",
        [text.kind, text.level, text.title, text.body, notices, operator, at],
    ).lastrowid
    deliveries = [
        db.execute(
            "insert into alert_deliveries (message_id, destination, destination_key, status, attempts, created_at,"
            " next_attempt_at) values (?, ?, ?, 'pending', 0, ?, ?)",
            [message_id, destination.label, destination.key, at, at],
        ).lastrowid
        for destination in destinations
    ]
    return int(message_id), [int(delivery) for delivery in deliveries]


def _carried(db: Database, notices: Sequence[Notice], message_id: int) -> None:
    for notice in notices:
        if notice.fired:
            db.execute("update alerts set fired_message_id = ? where id = ?", [message_id, notice.alert_id])
        if notice.resolved:
            db.execute("update alerts set resolved_message_id = ? where id = ?", [message_id, notice.alert_id])


def compose(
    db: Database, settings: AlertSettings, destinations: Sequence[Destination], public_url: str, now: datetime
) -> list[int]:
    """Turn the news no message carries yet into messages with their deliveries; returns the messages' ids.

    With a digest, news waits until the oldest has waited CONSOLE_ALERT_DIGEST_MINUTES, then goes as one
    message. Past the hourly cap news waits; when one message is left in the hour and more would be needed, the
    rest goes as one summary of what was held back."""
    with db.atomic():
        notices = _notices(db)
        if not notices:
            return []
        if settings.digest_minutes > 0 and notices[0].at > iso(now - timedelta(minutes=settings.digest_minutes)):
            return []
        room = settings.max_per_hour - _sent_in_the_last_hour(db, now)
        if room <= 0:
            return []
        labels = channel_labels(db, (notice.channel_id for notice in notices if notice.channel_id))
        groups = (
            [list(notices)] if settings.digest_minutes > 0 and len(notices) > 1 else [[notice] for notice in notices]
        )
        held: list[Notice] = []
        if len(groups) > room:
            held = [notice for group in groups[room - 1 :] for notice in group]
            groups = groups[: room - 1]
        messages = []
        for group in groups:
            if len(group) == 1:
                text = wording.single(group[0], labels, public_url)
            else:
                text = wording.digest(group, labels, public_url, settings.digest_minutes)
            message_id, _ = queue_message(db, text, destinations, now, notices=len(group), operator=None)
            _carried(db, group, message_id)
            messages.append(message_id)
        if held:
            text = wording.summary(held, labels, public_url, settings.max_per_hour)
            message_id, _ = queue_message(db, text, destinations, now, notices=len(held), operator=None)
            _carried(db, held, message_id)
            messages.append(message_id)
        return messages


# -- what the Alerts page shows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleState:
    key: str
    title: str
    on: bool
    threshold: str
    settings: tuple[str, ...]
    firing: int
    last_fired_at: str | None


@dataclass(frozen=True)
class OpenAlert:
    id: int
    rule: str
    title: str
    subject: str
    channel_id: str | None
    about: str
    detail: str
    fired_at: str
    sent: bool
    link: str


def rule_states(db: Database, settings: AlertSettings) -> list[RuleState]:
    counts = {
        row["rule"]: row
        for row in db.query(
            "select rule, sum(state = 'firing') as firing, max(fired_at) as last from alerts group by rule"
        )
    }
    return [
        RuleState(
            rule.key,
            rule.title,
            rule.is_on(settings),
            rule.threshold(settings),
            (rule.setting, *rule.threshold_settings),
            int((counts.get(rule.key) or {}).get("firing") or 0),
            (counts.get(rule.key) or {}).get("last"),
        )
        for rule in RULES
    ]


def open_alerts(db: Database, public_url: str, limit: int = 200) -> list[OpenAlert]:
    rows = list(
        db.query("select * from alerts where state = 'firing' order by fired_at desc, id desc limit ?", [limit])
    )
    labels = channel_labels(db, (row["channel_id"] for row in rows if row["channel_id"]))
    found = []
    for row in rows:
        rule = wording.RULES_BY_KEY.get(row["rule"])
        if rule is None:
            continue
        about = labels[row["channel_id"]].text if row["channel_id"] else row["subject"].split("/", 1)[-1]
        notice = Notice(
            row["id"], row["rule"], row["subject"], row["channel_id"], "", row["fired_at"], None, True, False
        )
        found.append(
            OpenAlert(
                row["id"],
                row["rule"],
                rule.title,
                row["subject"],
                row["channel_id"],
                about,
                row["detail"] or "",
                row["fired_at"],
                row["fired_message_id"] is not None,
                wording.link(public_url, notice, rule),
            )
        )
    return found


def delivery_history(db: Database, limit: int = RECENT_DELIVERIES) -> list[dict[str, Any]]:
    """The newest deliveries with their message; `state` says sent (after how many tries, when more than one),
    pending, retrying (tried and failed, tried again at next_attempt_at) or failed (given up, with why)."""
    return list(
        db.query(
            """
            select d.id, m.created_at, m.kind, m.title, d.destination,
                   case when d.status = 'pending' and d.attempts > 0 then 'retrying'
                        when d.status = 'sent' and d.attempts > 1 then 'sent after ' || d.attempts || ' tries'
                        else d.status end as state,
                   d.status, d.attempts, d.last_error, d.next_attempt_at, d.sent_at, d.last_attempt_at, m.operator
            from alert_deliveries d join alert_messages m on m.id = d.message_id
            order by d.id desc limit ?
            """,
            [limit],
        )
    )
