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
from services.alerts.rules import RULES, WARNING, Finding, Scan, severity_of
from services.alerts.wording import Notice, Text
from services.channels.labels import ChannelLabel, channel_labels
from services.settings import AlertSettings
from services.times import utc_text

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
    # Open alerts whose condition got worse (news again, even when acknowledged or snoozed).
    worsened: int = 0


def record_scans(db: Database, scans: dict[str, Scan], now: datetime) -> Changes:
    """Open an alert for each new finding, make news of an open one that got worse, and resolve each open one
    its rule no longer finds (only for rules that read every subject this round). A rule that is off leaves its
    alerts as they are. A snooze that ran out while its alert still fires is news again."""
    fired = resolved = worsened = 0
    at = iso(now)
    with db.atomic():
        _wake_snoozed(db, at)
        open_alerts: dict[tuple[str, str], dict[str, Any]] = {
            (row["rule"], row["subject"]): row
            for row in db.query("select id, rule, subject, badness from alerts where state = 'firing'")
        }
        for rule, scan in scans.items():
            found = {finding.subject: finding for finding in scan.findings}
            for subject, finding in found.items():
                known = open_alerts.get((rule, subject))
                if known is None:
                    _open(db, finding, at)
                    fired += 1
                elif finding.badness > (known["badness"] or 0):
                    _worsen(db, known["id"], finding, at)
                    worsened += 1
            if not scan.complete:
                continue
            for (open_rule, subject), known in open_alerts.items():
                if open_rule == rule and subject not in found:
                    # A resolution is welcome news: it goes out even while the alert is snoozed.
                    db.execute(
                        "update alerts set state = 'resolved', resolved_at = ?, snoozed_until = null where id = ?",
                        [at, known["id"]],
                    )
                    resolved += 1
    return Changes(fired, resolved, worsened)


def _open(db: Database, finding: Finding, at: str) -> None:
    db.execute(
        "insert into alerts (rule, subject, channel_id, state, detail, fired_at, severity, badness)"
        " values (?, ?, ?, 'firing', ?, ?, ?, ?)",
        [finding.rule, finding.subject, finding.channel_id, finding.detail, at, severity_of(finding), finding.badness],
    )


def _worsen(db: Database, alert_id: int, finding: Finding, at: str) -> None:
    """What was acknowledged or snoozed was the milder condition: the worse one is told again at once."""
    db.execute(
        "update alerts set detail = ?, severity = ?, badness = ?, worsened_at = ?, fired_message_id = null,"
        " acked_at = null, acked_by = null, snoozed_until = null, snoozed_by = null where id = ?",
        [finding.detail, severity_of(finding), finding.badness, at, alert_id],
    )


def _wake_snoozed(db: Database, at: str) -> None:
    db.execute(
        "update alerts set fired_message_id = null, snoozed_until = null, snoozed_by = null"
        " where state = 'firing' and snoozed_until is not null and snoozed_until <= ?",
        [at],
    )


def _notices(db: Database, now: datetime) -> list[Notice]:
    """The news no message carries yet, oldest first; a snoozed alert's news waits for its time."""
    rows = db.query(
        """
        select * from alerts
        where (fired_message_id is null or (state = 'resolved' and resolved_message_id is null))
          and (snoozed_until is null or snoozed_until <= ?)
        order by id
        """,
        [iso(now)],
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
            severity=row["severity"] or WARNING,
            worsened=row["worsened_at"] is not None,
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

    A critical alert goes out at once, whatever the cap and the digest. The rest go one message per rule and
    kind of news (22 numbers stuck, 78 resolutions of them: one message each), or, with a digest, as one
    message once the oldest has waited CONSOLE_ALERT_DIGEST_MINUTES. Past the hourly cap the rest waits; when
    one message is left in the hour and more would be needed, the rest goes as one summary of what was held."""
    with db.atomic():
        notices = _notices(db, now)
        if not notices:
            return []
        labels = channel_labels(db, (notice.channel_id for notice in notices if notice.channel_id))
        room = settings.max_per_hour - _sent_in_the_last_hour(db, now)
        urgent = [notice for notice in notices if notice.urgent]
        rest = [notice for notice in notices if not notice.urgent]
        messages = [
            _queue_group(db, group, labels, destinations, public_url, now, settings) for group in _by_rule(urgent)
        ]
        if rest and room > 0 and _held_by(rest, settings, room, now) is None:
            messages.extend(_compose_rest(db, rest, labels, destinations, public_url, now, settings, room))
        return messages


def _by_rule(notices: Sequence[Notice]) -> list[list[Notice]]:
    """One group per rule and kind of news, in the order their first news came."""
    groups: dict[tuple[str, str], list[Notice]] = {}
    for notice in notices:
        groups.setdefault((notice.rule, notice.kind), []).append(notice)
    return list(groups.values())


def _compose_rest(
    db: Database,
    rest: list[Notice],
    labels: dict[str, ChannelLabel],
    destinations: Sequence[Destination],
    public_url: str,
    now: datetime,
    settings: AlertSettings,
    room: int,
) -> list[int]:
    groups = [rest] if settings.digest_minutes > 0 and len(rest) > 1 else _by_rule(rest)
    held: list[Notice] = []
    if len(groups) > room:
        held = [notice for group in groups[room - 1 :] for notice in group]
        groups = groups[: room - 1]
    messages = [_queue_group(db, group, labels, destinations, public_url, now, settings) for group in groups]
    if held:
        text = wording.summary(held, labels, public_url, settings.max_per_hour)
        message_id, _ = queue_message(db, text, destinations, now, notices=len(held), operator=None)
        _carried(db, held, message_id)
        messages.append(message_id)
    return messages


def _queue_group(
    db: Database,
    group: list[Notice],
    labels: dict[str, ChannelLabel],
    destinations: Sequence[Destination],
    public_url: str,
    now: datetime,
    settings: AlertSettings,
) -> int:
    if len(group) == 1:
        text = wording.single(group[0], labels, public_url)
    elif len({(notice.rule, notice.kind) for notice in group}) == 1:
        text = wording.grouped(group, labels, public_url)
    else:
        text = wording.digest(group, labels, public_url, settings.digest_minutes)
    message_id, _ = queue_message(db, text, destinations, now, notices=len(group), operator=None)
    _carried(db, group, message_id)
    return message_id


@dataclass(frozen=True)
class Held:
    """News that waits, why (the digest, the hourly cap, or only the next check) and until when."""

    alerts: int
    resolutions: int
    reason: str
    until: str | None


def _held_by(rest: Sequence[Notice], settings: AlertSettings, room: int, now: datetime) -> tuple[str, str] | None:
    """Why the non-critical news waits and until when; None when it may go now."""
    if settings.digest_minutes > 0:
        due = datetime.fromisoformat(rest[0].at) + timedelta(minutes=settings.digest_minutes)
        if due > now:
            return "the digest", iso(due)
    if room <= 0:
        return "the hourly cap", ""
    return None


def held_news(db: Database, settings: AlertSettings, now: datetime | None = None) -> Held | None:
    """What the Alerts page says waits: the news no message carries yet (critical alerts never wait; snoozed
    ones are shown as snoozed), why, and until when."""
    now = now or now_utc()
    rest = [notice for notice in _notices(db, now) if not notice.urgent]
    if not rest:
        return None
    alerts = sum(notice.fired for notice in rest)
    resolutions = len(rest) - alerts
    room = settings.max_per_hour - _sent_in_the_last_hour(db, now)
    held = _held_by(rest, settings, room, now)
    if held is None:
        return Held(alerts, resolutions, "the next check", None)
    reason, until = held
    return Held(alerts, resolutions, reason, until or _cap_frees_at(db, settings, now))


def _cap_frees_at(db: Database, settings: AlertSettings, now: datetime) -> str:
    """When the hour's cap has room again: an hour after the oldest message it still counts, enough of them
    gone for one more."""
    marks = ", ".join("?" for _ in CAPPED_KINDS)
    counted = [
        row[0]
        for row in db.execute(
            f"select created_at from alert_messages where kind in ({marks}) and created_at > ?"  # noqa: S608
            " order by created_at",
            [*CAPPED_KINDS, iso(now - timedelta(hours=1))],
        ).fetchall()
    ]
    over = max(len(counted) - settings.max_per_hour, 0)
    oldest = counted[over] if counted else iso(now)
    return iso(datetime.fromisoformat(oldest) + timedelta(hours=1))


# -- what the Alerts page shows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleState:
    key: str
    title: str
    severity: str
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
    severity: str = WARNING
    acked_by: str | None = None
    acked_at: str | None = None
    snoozed_until: str | None = None
    # Whether the team was told, or what holds it back and until when.
    told: str = ""


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
            rule.severity,
            rule.is_on(settings),
            rule.threshold(settings),
            (rule.setting, *rule.threshold_settings),
            int((counts.get(rule.key) or {}).get("firing") or 0),
            (counts.get(rule.key) or {}).get("last"),
        )
        for rule in RULES
    ]


def open_alerts(db: Database, public_url: str, limit: int = 200, held: Held | None = None) -> list[OpenAlert]:
    """The firing alerts, critical first, newest first within each severity; `held` (held_news) says what holds
    back those not told yet."""
    rows = list(
        db.query(
            "select * from alerts where state = 'firing'"
            " order by severity = 'critical' desc, fired_at desc, id desc limit ?",
            [limit],
        )
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
                row["severity"] or WARNING,
                row["acked_by"],
                row["acked_at"],
                row["snoozed_until"],
                _told(row, held),
            )
        )
    return found


def _told(row: dict[str, Any], held: Held | None) -> str:
    if row["snoozed_until"]:
        return f"snoozed until {_clock_time(row['snoozed_until'])}"
    if row["fired_message_id"] is not None:
        return "yes"
    if row["severity"] == "critical":
        return "going out at the next check"
    if held is None or held.until is None:
        return "at the next check"
    return f"held by {held.reason} until {utc_text(held.until, to='clock', zone=True)}"


def _clock_time(moment: str) -> str:
    return utc_text(moment, to="minute", zone=True)


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
