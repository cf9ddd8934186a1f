"""Channels that need someone to look at them: running without a key, a key that stopped working, stuck, degraded (a
quality or limit drop, or a RED or FLAGGED rating whatever came before), revoked, moved out of running by the
Partner API, hurt by a template decision of their WABA, or with a cancellation pending. A channel that ended
(services.channels.endings) is out of the onboarding reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.channels.account_alerts import recent_channel_alerts
from services.channels.endings import cancellation_note
from services.channels.templates import template_problems
from services.keys.health.reading import stopped_keys
from services.keys.readiness import unprepared_keys
from services.migrations import BAD_QUALITY_RATINGS, BAD_QUALITY_SQL
from services.whatsapp import QUALITY_RATINGS, limit_value

# Meta's ratings and messaging tiers, worst first; a move to a lower index is a drop.
UNFINISHED_STAGES = ("created", "pending", "submitted", "ready")
ATTENTION_LIMIT = 50


@dataclass(frozen=True)
class AttentionItem:
    channel_id: str
    reason: str
    detail: str
    since: str | None


def _rank(value: str | None, order: tuple[str, ...]) -> int | None:
    if value is None:
        return None
    normalised = value.strip().upper()
    return order.index(normalised) if normalised in order else None


def _dropped(old: str | None, new: str | None, order: tuple[str, ...]) -> bool:
    old_rank, new_rank = _rank(old, order), _rank(new, order)
    return old_rank is not None and new_rank is not None and new_rank < old_rank


def limit_dropped(old: str | None, new: str | None) -> bool:
    """A messaging limit drop, tiers and numbers on one scale (TIER_10K to 2000 is one)."""
    old_value, new_value = limit_value(old), limit_value(new)
    return old_value is not None and new_value is not None and new_value < old_value


def quality_drop(channel: dict[str, Any]) -> str | None:
    """A sentence describing a quality or limit downgrade, or None when the latest change was not a drop."""
    drops = []
    if _dropped(channel.get("previous_quality_rating"), channel.get("quality_rating"), QUALITY_RATINGS):
        drops.append(f"quality fell from {channel['previous_quality_rating']} to {channel['quality_rating']}")
    if limit_dropped(channel.get("previous_messaging_limit"), channel.get("messaging_limit")):
        drops.append(f"messaging limit fell from {channel['previous_messaging_limit']} to {channel['messaging_limit']}")
    return "; ".join(drops) or None


def low_quality(channel: dict[str, Any]) -> str | None:
    """A RED or FLAGGED rating that is no drop (the first rating known, or no better before): it needs someone
    all the same."""
    rating = (channel.get("quality_rating") or "").strip().upper()
    if rating not in BAD_QUALITY_RATINGS:
        return None
    before = channel.get("previous_quality_rating")
    return f"quality is {rating}" + (f" (was {before})" if before else " (no earlier rating known)")


def quality_trouble(channel: dict[str, Any]) -> str | None:
    """What the channel's view and the work queue say about its quality and limit: a drop, or a bad rating."""
    drop = quality_drop(channel)
    if drop and "quality fell" in drop:
        return drop
    return "; ".join(part for part in (low_quality(channel), drop) if part) or None


def running_without_key(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Running, neither revoked nor ended, and no key (none made, or revoked): the longest running first, from the
    list triggers keep (services.migrations), so the first few are read without asking every running channel."""
    rows = db.query("select channel_id, since from channels_wanting_key order by since limit ?", [limit])
    return [AttentionItem(row["channel_id"], "running without a key", "", row["since"]) for row in rows]


def key_outcome_unknown(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Channels whose latest attempt that did not plainly fail may have reached 360dialog (one attempt each), the
    oldest first, read through the index of such attempts."""
    rows = db.query(
        """
        select channel_id, created_at as at from api_keys where outcome = 'unknown'
          and id = (select max(id) from api_keys k where k.channel_id = api_keys.channel_id and k.outcome != 'failed')
        order by created_at limit ?
        """,
        [limit],
    )
    return [
        AttentionItem(row["channel_id"], "check key state", "a key request may have reached 360dialog", row["at"])
        for row in rows
    ]


def stuck(db: Database, after_minutes: float, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    cutoff = (datetime.now(UTC) - timedelta(minutes=after_minutes)).isoformat(timespec="microseconds")
    rows: list[dict[str, Any]] = []
    # One indexed range per stage: a single "status in (...)" query makes SQLite sort every stuck channel.
    # "+revoked" keeps the planner off the revoked index.
    for stage in UNFINISHED_STAGES:
        rows.extend(
            db.query(
                """
                select id, status, status_changed_at from channels
                where status = ? and status_changed_at < ? and +revoked = 0 and ended is null
                order by status_changed_at limit ?
                """,
                [stage, cutoff, limit],
            )
        )
    rows.sort(key=lambda row: row["status_changed_at"])
    return [
        AttentionItem(row["id"], "stuck", f"{row['status']} for over {after_minutes:g} min", row["status_changed_at"])
        for row in rows[:limit]
    ]


def degraded(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Quality or limit drops, and any number rated RED or FLAGGED whatever came before."""
    bad = list(
        db.query(f"select * from channels where {BAD_QUALITY_SQL} order by updated_at desc limit ?", [limit])  # noqa: S608
    )
    items = [
        AttentionItem(
            row["id"],
            "quality or limit dropped" if quality_drop(row) else "quality RED or FLAGGED",
            quality_trouble(row) or "",
            row["quality_changed_at"] or row["updated_at"],
        )
        for row in bad
    ]
    seen = {row["id"] for row in bad}
    rows = db.query(
        """
        select * from channels where quality_changed_at is not null
        order by quality_changed_at desc limit ?
        """,
        [limit * 4],
    )
    for row in rows:
        drop = quality_drop(row)
        if drop and row["id"] not in seen:
            items.append(AttentionItem(row["id"], "quality or limit dropped", drop, row["quality_changed_at"]))
    return items[:limit]


def revoked(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    rows = db.query("select id, updated_at from channels where revoked = 1 order by updated_at desc limit ?", [limit])
    return [AttentionItem(row["id"], "revoked", "the client withdrew permission", row["updated_at"]) for row in rows]


def refused_by_360dialog(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Channels whose last key request 360dialog refused (403), with its words; the action is to try again."""
    rows = db.query(
        "select id, key_refusal, key_refused_at from channels where key_refusal is not null"
        " order by key_refused_at desc limit ?",
        [limit],
    )
    return [
        AttentionItem(row["id"], "refused by 360dialog", f"{row['key_refusal']} · try again", row["key_refused_at"])
        for row in rows
    ]


def key_stopped(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Active keys 360dialog refused at their last health check (401 or 403), with what to do."""
    return [
        AttentionItem(key.channel_id, "key stopped working", f"{key.detail} · {key.action}", key.since)
        for key in stopped_keys(db, limit)
    ]


def key_not_ready(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    return [
        AttentionItem(key.channel_id, "key not ready to use", key.detail, key.since)
        for key in unprepared_keys(db, limit)
    ]


def left_running(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Channels a sync saw leave running (services.channels.sync), until they are running again."""
    rows = db.query(
        """
        select id, status, left_running_at, left_running_to from channels
        where left_running_at is not null and status is not 'running'
        order by left_running_at desc limit ?
        """,
        [limit],
    )
    items = []
    for row in rows:
        detail = f"running -> {row['left_running_to']}, seen by sync at {row['left_running_at']}"
        if row["status"] != row["left_running_to"]:
            detail += f"; {row['status'] or 'no status'} now"
        items.append(AttentionItem(row["id"], "left running", detail, row["left_running_at"]))
    return items


def account_alerts(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Account violations and restrictions matched to a channel by its number, each channel's newest."""
    return [
        AttentionItem(alert.channel_id, alert.label, alert.summary, alert.received_at)
        for alert in recent_channel_alerts(db, limit)
    ]


def template_trouble(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """A rejected, paused or disabled template of the channel's WABA (each template's newest event decides)."""
    return [
        AttentionItem(problem.channel_id, "template problem", problem.event.summary, problem.event.received_at)
        for problem in template_problems(db, limit)
    ]


def cancellation_pending(db: Database, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    rows = db.query(
        "select * from channels where cancellation = 'requested' and ended is null order by cancellation_at limit ?",
        [limit],
    )
    return [
        AttentionItem(row["id"], "cancellation requested", cancellation_note(row) or "", row["cancellation_at"])
        for row in rows
    ]


def needs_attention(db: Database, *, stuck_after_minutes: float, limit: int = ATTENTION_LIMIT) -> list[AttentionItem]:
    """Every reason, each list bounded, so the page stays fast however many channels there are."""
    return [
        *account_alerts(db, limit),
        *cancellation_pending(db, limit),
        *template_trouble(db, limit),
        *key_outcome_unknown(db, limit),
        *left_running(db, limit),
        *degraded(db, limit),
        *revoked(db, limit),
        *refused_by_360dialog(db, limit),
        *key_stopped(db, limit),
        *stuck(db, stuck_after_minutes, limit),
        *running_without_key(db, limit),
        *key_not_ready(db, limit),
    ]
