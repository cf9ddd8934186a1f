"""Each alert rule's condition made true, then false again, in a console database; a clock tests move by hand;
alert settings with only the rules a test names turned on."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from services.settings import AlertSettings

RULE_FLAGS = (
    "quality_drop",
    "limit_drop",
    "template",
    "left_running",
    "stuck",
    "no_key",
    "revoked",
    "permission_changed",
    "account",
    "key_chain",
    "key_stopped",
    "rejections",
    "heartbeat",
    "sync_failed",
)
BUSINESS = "Cafe Olé"


def phone_of(channel_id: str) -> str:
    """Each test channel's own number, so that an account alert names one channel only."""
    number = zlib.crc32(channel_id.encode()) % 900_000 + 100_000
    return f"+34 600 {number // 1000:03d} {number % 1000:03d}"


class Clock:
    """Now, as the alert rounds see it; moved by the test, never by itself."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def iso(self, **ago: float) -> str:
        return (self.now - timedelta(**ago)).isoformat(timespec="microseconds")


def alert_settings(urls: tuple[str, ...] | list[str], *on: str, **extra: object) -> AlertSettings:
    """Alert settings sending to `urls`, with only the rules in `on` turned on (all when none is named)."""
    names = {field.name for field in fields(AlertSettings)}
    flags = {flag: (not on or flag in on) for flag in RULE_FLAGS}
    assert set(flags) <= names
    assert set(extra) <= names
    return replace(AlertSettings(), urls=tuple(urls), **{"retry_seconds": 0.5, **flags, **extra})


def add_channel(
    db: Database,
    channel_id: str,
    clock: Clock,
    *,
    status: str = "running",
    business: str | None = BUSINESS,
    phone: str | None = "",
    changed_minutes_ago: float = 1,
    **columns: object,
) -> None:
    client_id = f"client-{channel_id}"
    with db.atomic():
        if business is not None:
            db["clients"].upsert({"id": client_id, "name": business, "first_seen_at": clock.iso()}, pk="id")
        db["channels"].insert(
            {
                "id": channel_id,
                "client_id": client_id,
                "status": status,
                "phone_number": phone_of(channel_id) if phone == "" else phone,
                "revoked": 0,
                "status_changed_at": clock.iso(minutes=changed_minutes_ago),
                "updated_at": clock.iso(),
                **columns,
            }
        )


def add_key(db: Database, channel_id: str, clock: Clock, *, step_status: str | None = None) -> int:
    with db.atomic():
        key_id = (
            db["api_keys"]
            .insert(
                {
                    "channel_id": channel_id,
                    "operator": "ops",
                    "created_at": clock.iso(),
                    "outcome": "ok",
                    "status": "active",
                    "key_last4": "abcd",
                }
            )
            .last_pk
        )
        if step_status:
            for step in ("check_key", "set_webhook", "read_back"):
                status = step_status if step == "set_webhook" else "ok"
                db["key_steps"].insert(
                    {"key_id": key_id, "step": step, "status": status, "detail": f"{step} {status}", "at": clock.iso()},
                    pk=("key_id", "step"),
                    replace=True,
                )
    return int(key_id)


def add_event(
    db: Database, clock: Clock, event_type: str, *, phone: str | None = None, number: int = 1, hours_ago: float = 0
) -> None:
    body = {"event": event_type, "data": {"phone_number": phone, "violation_type": "SPAM"}} if phone else {}
    digits = "".join(ch for ch in phone if ch.isdigit()) if phone else None
    with db.atomic():
        db["events"].insert(
            {
                "dedupe_key": f"{event_type}-{number}-{clock.iso(hours=hours_ago)}",
                "event_type": event_type,
                "kind": "partner",
                "raw_body": json.dumps(body or {"event": event_type}),
                "received_at": clock.iso(hours=hours_ago),
                "phone_digits": digits,
            }
        )


def _set(db: Database, channel_id: str, **values: object) -> None:
    with db.atomic():
        db["channels"].update(channel_id, values)


@dataclass(frozen=True)
class Condition:
    """How one rule's condition comes about for the channel `channel_id` (or for the console as a whole), and
    how it goes away."""

    rule: str
    about_channel: bool
    make: Callable[[Database, str, Clock], None]
    clear: Callable[[Database, str, Clock], None]


def _make_quality_drop(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock)
    add_key(db, channel_id, clock, step_status="ok")
    _set(
        db,
        channel_id,
        quality_rating="YELLOW",
        previous_quality_rating="GREEN",
        messaging_limit="TIER_1K",
        previous_messaging_limit="TIER_1K",
        quality_changed_at=clock.iso(),
    )


def _make_limit_drop(db: Database, channel_id: str, clock: Clock) -> None:
    """A portfolio limit written as a number, down from a tier: one scale for both."""
    add_channel(db, channel_id, clock, waba_id=f"{channel_id}WA")
    add_key(db, channel_id, clock, step_status="ok")
    _set(db, channel_id, messaging_limit="2000", previous_messaging_limit="TIER_10K", quality_changed_at=clock.iso())


def add_template_event(db: Database, clock: Clock, waba_id: str, status: str, *, number: int = 1) -> None:
    body = {
        "event": "waba_template_status_changed",
        "data": {"id": waba_id, "template": {"name": "spring_sale", "language": "en", "status": status}},
    }
    with db.atomic():
        db["events"].insert(
            {
                "dedupe_key": f"template-{waba_id}-{number}-{clock.iso()}",
                "event_type": "waba_template_status_changed",
                "kind": "template",
                "waba_id": waba_id,
                "raw_body": json.dumps(body),
                "received_at": clock.iso(hours=2),
            }
        )


def _make_template(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock, waba_id=f"{channel_id}WA")
    add_key(db, channel_id, clock, step_status="ok")
    add_template_event(db, clock, f"{channel_id}WA", "rejected")


def _template_approved(db: Database, channel_id: str, clock: Clock) -> None:
    clock.advance(seconds=1)
    add_template_event(db, clock, f"{channel_id}WA", "approved", number=2)


def _make_left_running(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock, status="ready", left_running_at=clock.iso(), left_running_to="ready")


def _make_stuck(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock, status="pending", changed_minutes_ago=120)


def _make_no_key(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock, status="running", changed_minutes_ago=120)


def _make_revoked(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock, revoked=1)


def _make_permission_changed(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock, status="running")
    _set(db, channel_id, permission="not_shared", previous_permission="granted", permission_changed_at=clock.iso())


def _make_account(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock)
    # Two hours old: no partner event since, for the heartbeat rule when a test runs them all at once.
    add_event(db, clock, "account_violation", phone=phone_of(channel_id), hours_ago=2)


def _make_key_chain(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock)
    add_key(db, channel_id, clock, step_status="failed")


def make_key_stopped(db: Database, channel_id: str, clock: Clock) -> None:
    """Key health found the channel's active key refused (services.keys.health)."""
    add_channel(db, channel_id, clock)
    key_id = add_key(db, channel_id, clock, step_status="ok")
    with db.atomic():
        db["key_health"].insert(
            {
                "key_id": key_id,
                "channel_id": channel_id,
                "status": "stopped",
                "detail": "360dialog refused the key ending abcd (401)",
                "checked_at": clock.iso(),
                "changed_at": clock.iso(),
                "failures": 0,
                "due_at": 0.0,
            }
        )


def _new_key(db: Database, channel_id: str, clock: Clock) -> None:
    """A new key for the channel: generation revokes the old one, so only the new key's health counts."""
    with db.atomic():
        db.execute("update api_keys set status = 'revoked' where channel_id = ?", [channel_id])
    add_key(db, channel_id, clock, step_status="ok")


def _make_rejections(db: Database, channel_id: str, clock: Clock) -> None:
    with db.atomic():
        for number in range(25):
            db["receiver_rejections"].insert(
                {"at": clock.iso(seconds=number), "source": "198.51.100.7", "status": 401, "reason": "bad signature"}
            )


def _make_heartbeat(db: Database, channel_id: str, clock: Clock) -> None:
    add_channel(db, channel_id, clock, status="pending")


def _make_sync_failed(db: Database, channel_id: str, clock: Clock) -> None:
    with db.atomic():
        db["sync_runs"].insert(
            {
                "trigger": "scheduler",
                "operator": "scheduler",
                "started_at": clock.iso(seconds=5),
                "finished_at": clock.iso(),
                "outcome": "failed",
                "error": "the Partner API answered 503",
            }
        )


def _ok_sync(db: Database, channel_id: str, clock: Clock) -> None:
    with db.atomic():
        db["sync_runs"].insert(
            {
                "trigger": "operator",
                "operator": "ops",
                "started_at": clock.iso(),
                "finished_at": clock.iso(),
                "outcome": "ok",
            }
        )


def _violation_ages_out(db: Database, channel_id: str, clock: Clock) -> None:
    """A violation stays on the attention list 30 days: this one is made older than that."""
    with db.atomic():
        db.execute("update events set received_at = ? where event_type = 'account_violation'", [clock.iso(days=31)])


def _key_step_ok(db: Database, channel_id: str, clock: Clock) -> None:
    with db.atomic():
        db.execute("update key_steps set status = 'ok' where status = 'failed'")


CONDITIONS = (
    Condition(
        "quality_drop",
        True,
        _make_quality_drop,
        lambda db, cid, clock: _set(
            db, cid, quality_rating="GREEN", previous_quality_rating="YELLOW", previous_messaging_limit="TIER_50"
        ),
    ),
    Condition(
        "limit_drop",
        True,
        _make_limit_drop,
        lambda db, cid, clock: _set(db, cid, messaging_limit="unlimited", previous_messaging_limit="2000"),
    ),
    Condition("template", True, _make_template, _template_approved),
    Condition("left_running", True, _make_left_running, lambda db, cid, clock: _set(db, cid, status="running")),
    Condition(
        "stuck",
        True,
        _make_stuck,
        lambda db, cid, clock: _set(db, cid, status="running", status_changed_at=clock.iso()),
    ),
    Condition("no_key", True, _make_no_key, lambda db, cid, clock: add_key(db, cid, clock, step_status="ok")),
    Condition("revoked", True, _make_revoked, lambda db, cid, clock: _set(db, cid, revoked=0)),
    Condition(
        "permission_changed",
        True,
        _make_permission_changed,
        # A change is news for a week, then it ages out.
        lambda db, cid, clock: _set(db, cid, permission_changed_at=clock.iso(days=8)),
    ),
    Condition("account", True, _make_account, _violation_ages_out),
    Condition("key_chain", True, _make_key_chain, _key_step_ok),
    Condition("key_stopped", True, make_key_stopped, _new_key),
    Condition("rejections", False, _make_rejections, lambda db, cid, clock: clock.advance(minutes=11)),
    Condition("heartbeat", False, _make_heartbeat, lambda db, cid, clock: add_event(db, clock, "channel_created")),
    Condition("sync_failed", False, _make_sync_failed, _ok_sync),
)
