"""A channel as people know it: its number and business next to its id, read for many channels in one query.

Pages, alerts and onboarding views all name channels this way. It reads only the channels and clients tables,
so any process may use it (the scheduler's alerts among them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

from services.phone_numbers import spelled_out


@dataclass(frozen=True)
class ChannelLabel:
    channel_id: str
    phone_number: str | None
    phone_name: str | None
    client_id: str | None
    client_name: str | None

    @property
    def number(self) -> str | None:
        """The number as people write it, though a webhook gave only its digits ('+34 600 111 222')."""
        return spelled_out(self.phone_number)

    @property
    def text(self) -> str:
        """'+34 600 111 222 (Cafe Olé)'; the id only while neither number nor name is known."""
        name = self.phone_name or self.client_name
        if self.number:
            return f"{self.number} ({name})" if name else self.number
        return f"{name} ({self.channel_id})" if name else f"channel {self.channel_id}"

    @property
    def business(self) -> str:
        return self.client_name or self.phone_name or "business not known yet"


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
