"""The Channels page as a workbench: the attention queue with names, one channel's label, and the list as CSV.

People know a channel by its number and business, not by its id: every row here carries both."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

from services.channels.labels import ChannelLabel, channel_labels
from services.read_models.channel_list import COUNT_CAP, KEY_STATUS_SQL, ChannelFilter, where_clause
from services.read_models.work_queue import AttentionItem, needs_attention
from services.spreadsheet import csv_text

EXPORT_COLUMNS = (
    "id",
    "status",
    "phone_number",
    "phone_name",
    "client_id",
    "client_name",
    "quality_rating",
    "messaging_limit",
    "permission",
    "key_status",
    "status_changed_at",
    "updated_at",
)


@dataclass(frozen=True)
class QueueRow:
    channel_id: str
    reason: str
    detail: str
    since: str | None
    label: ChannelLabel


def work_queue(db: Database, *, stuck_after_minutes: float) -> list[QueueRow]:
    """Every channel that needs someone, one row per channel and reason, oldest first, with its names."""
    items: list[AttentionItem] = needs_attention(db, stuck_after_minutes=stuck_after_minutes)
    labels = channel_labels(db, (item.channel_id for item in items))
    rows = [QueueRow(item.channel_id, item.reason, item.detail, item.since, labels[item.channel_id]) for item in items]
    return sorted(rows, key=lambda row: row.since or "")


def reason_counts(rows: Iterable[QueueRow]) -> dict[str, int]:
    """How many rows each reason has, most frequent first."""
    return dict(Counter(row.reason for row in rows).most_common())


def matches_filter(db: Database, channel_filter: ChannelFilter, channel_id: str) -> bool:
    """Whether the channel is among those the filter shows (so a detail view can close when it is hidden)."""
    where, params = where_clause(channel_filter)
    joiner = " and " if where else " where "
    row = db.execute(f"select 1 from channels {where}{joiner}channels.id = ?", [*params, channel_id]).fetchone()  # noqa: S608
    return row is not None


def channels_csv(db: Database, channel_filter: ChannelFilter, *, limit: int = COUNT_CAP * 10) -> str:
    """The filtered channel list as CSV (formulas neutralised), newest change first."""
    where, params = where_clause(channel_filter)
    rows = db.query(
        f"""
        select channels.*, clients.name as client_name, {KEY_STATUS_SQL} as key_status
        from channels left join clients on clients.id = channels.client_id
        {where} order by channels.updated_at desc, channels.id desc limit ?
        """,  # noqa: S608 - fixed fragments; values are bound
        [*params, limit],
    )
    return csv_text(list(EXPORT_COLUMNS), [{name: row.get(name) for name in EXPORT_COLUMNS} for row in rows])
