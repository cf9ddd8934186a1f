"""The Channels page as a workbench: the attention queue with names, one channel's label, and the list as CSV.

People know a channel by its number and business, not by its id: every row here carries both."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

from services.channels.attention import AttentionItem, needs_attention
from services.channels.query import COUNT_CAP, KEY_STATUS_SQL, ChannelFilter, where_clause
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
class ChannelLabel:
    channel_id: str
    phone_number: str | None
    phone_name: str | None
    client_id: str | None
    client_name: str | None

    @property
    def text(self) -> str:
        """'+34 600 111 222 (Cafe Olé)'; the id only while neither number nor name is known."""
        name = self.phone_name or self.client_name
        if self.phone_number:
            return f"{self.phone_number} ({name})" if name else self.phone_number
        return f"{name} ({self.channel_id})" if name else f"channel {self.channel_id}"


@dataclass(frozen=True)
class QueueRow:
    channel_id: str
    reason: str
    detail: str
    since: str | None
    label: ChannelLabel


def channel_labels(db: Database, channel_ids: Iterable[str]) -> dict[str, ChannelLabel]:
    """Number, display name and business of each channel, in one query; unknown ids get an id-only label."""
    ids = list(dict.fromkeys(channel_ids))
    found: dict[str, ChannelLabel] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = db.query(
            f"""
            select channels.id, channels.phone_number, channels.phone_name, channels.client_id,
                   clients.name as client_name
            from channels left join clients on clients.id = channels.client_id
            where channels.id in ({marks})
            """,  # noqa: S608 - placeholders only
            chunk,
        )
        for row in rows:
            found[row["id"]] = ChannelLabel(
                row["id"], row["phone_number"], row["phone_name"], row["client_id"], row["client_name"]
            )
    return {channel_id: found.get(channel_id) or ChannelLabel(channel_id, None, None, None, None) for channel_id in ids}


def channel_label(db: Database, channel_id: str) -> ChannelLabel:
    return channel_labels(db, [channel_id])[channel_id]


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
