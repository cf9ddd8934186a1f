"""The channels table as the ops team reads it: one row per channel, filtered and paged in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from services.events.console_search import channel_condition, read_search
from services.keys.key_status import key_status_sql
from services.phone_numbers import DEFAULT_REGION
from services.sql_where import Where

KEY_STATUS_SQL = key_status_sql("channels.id")
KEY_STATUSES = ("none", "active", "stopped", "pending", "unknown", "revoked", "unusable")
FUNNEL_STAGES = ("created", "pending", "submitted", "ready", "running")
COUNT_CAP = 10_000


@dataclass(frozen=True)
class ChannelFilter:
    search: str = ""
    status: str | None = None
    client_id: str | None = None
    key_status: str | None = None
    permission: str | None = None
    # Where a number typed in national form is from (Settings.phone_region).
    region: str = DEFAULT_REGION


def where_clause(channel_filter: ChannelFilter) -> tuple[str, list[Any]]:
    """The SQL where clause (with its bound values) that selects the channels a filter shows."""
    where = Where()
    where.equals("channels.status", channel_filter.status)
    where.equals("channels.client_id", channel_filter.client_id)
    where.equals("channels.permission", channel_filter.permission)
    where.equals(KEY_STATUS_SQL, channel_filter.key_status)
    search = read_search(channel_filter.search, channel_filter.region)
    if search:
        condition, values = channel_condition(search)
        where.condition(condition, *values)
    return where.sql, where.params


def page_channels(
    db: Database, channel_filter: ChannelFilter, *, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """One page of channels, most recently changed first, with client name and key status."""
    where, params = where_clause(channel_filter)
    rows = db.query(
        f"""
        select channels.*, clients.name as client_name, {KEY_STATUS_SQL} as key_status
        from channels left join clients on clients.id = channels.client_id
        {where}
        order by channels.updated_at desc, channels.id desc
        limit ? offset ?
        """,  # noqa: S608 - the where clause is built from fixed fragments; values are bound
        [*params, limit, offset],
    )
    now = datetime.now(UTC)
    return [{**row, "in_status_for": time_in_status(row.get("status_changed_at"), now)} for row in rows]


def count_channels(db: Database, channel_filter: ChannelFilter, *, cap: int = COUNT_CAP) -> int:
    """How many channels match, counting no further than `cap` (the page shows "cap+")."""
    where, params = where_clause(channel_filter)
    row = next(
        db.query(
            f"select count(*) as n from (select 1 from channels {where} limit ?)",  # noqa: S608
            [*params, cap],
        )
    )
    return int(row["n"])


def funnel(db: Database) -> dict[str, int]:
    """Channels per lifecycle stage (kept by triggers), unknown statuses kept under their own name."""
    counts = dict.fromkeys(FUNNEL_STAGES, 0)
    for row in db.query("select status, channels from channel_stages where channels > 0"):
        counts[row["status"]] = row["channels"]
    return counts


def client_ids(db: Database, limit: int = 500) -> list[str]:
    return [row["id"] for row in db.query("select id from clients order by id limit ?", [limit])]


def time_in_status(changed_at: str | None, now: datetime | None = None) -> str:
    """'3 d 4 h', '25 min', ... since the status last changed; '' when not known."""
    if not changed_at:
        return ""
    try:
        then = datetime.fromisoformat(changed_at)
    except ValueError:
        return ""
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def client_name(db: Database, client_id: str) -> str | None:
    row = db.execute("select name from clients where id = ?", [client_id]).fetchone()
    return row[0] if row else None
