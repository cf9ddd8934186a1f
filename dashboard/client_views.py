"""Rendering pieces of the Clients page: the list, one client's facts, its numbers as links, its timeline."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard.connect_widgets import CHANNELS_PAGE, channel_page_link
from dashboard.times import exact, relative
from dashboard.widgets import key_badge, plural, status_badge
from services.read_models.channel_list import FUNNEL_STAGES
from services.read_models.clients import ClientChannel, ClientRow, ClientTimelineEntry

TABLE_COLUMNS = ("business", "numbers", "channels", *reversed(FUNNEL_STAGES[1:]), "other", "first seen", "client id")
CHANNEL_LINKS_SHOWN = 20


def _numbers(client: ClientRow) -> str:
    shown = ", ".join(client.numbers)
    more = client.channels - len(client.numbers)
    if not shown:
        return "not known yet" if client.channels else ""
    return f"{shown} +{more} more" if more > 0 else shown


def _other(client: ClientRow) -> int:
    return sum(count for status, count in client.by_status.items() if status not in FUNNEL_STAGES[1:])


def clients_table(rows: list[ClientRow], *, key: str, on_select: Callable[[], None] | str) -> None:
    """Business and numbers first (what people know a client by), channels per status, the id last."""
    shaped = [
        {
            "business": row.name or "name not known yet",
            "numbers": _numbers(row),
            "channels": row.channels,
            **{stage: row.by_status.get(stage, 0) for stage in FUNNEL_STAGES[1:]},
            "other": _other(row),
            "first seen": relative(row.first_seen_at),
            "client id": row.id,
        }
        for row in rows
    ]
    frame = pd.DataFrame(shaped, columns=list(TABLE_COLUMNS))
    st.dataframe(frame, hide_index=True, width="stretch", key=key, on_select=on_select, selection_mode="single-row")


def client_facts(client: ClientRow) -> None:
    """Untrusted values as plain text; the business name and id are the view's title."""
    if not client.name:
        st.text("Business name not known yet.")
    counts = " · ".join(f"{status} {count}" for status, count in client.by_status.items())
    st.text(f"{plural(client.channels, 'channel')}" + (f": {counts}" if counts else ""))
    if client.first_seen_at:
        st.caption(f"First seen {relative(client.first_seen_at)} ({exact(client.first_seen_at)})")


def client_channel_links(channels: list[ClientChannel], client_id: str, total: int) -> None:
    """Each number opens its channel's own view; a client with many numbers links to its filtered list too."""
    if not channels:
        st.text("No channel known for this client yet.")
        return
    for channel in channels[:CHANNEL_LINKS_SHOWN]:
        channel_page_link(
            f"{_number(channel)} · {status_badge(channel.status)} · {key_badge(channel.key_status)}",
            channel.label.channel_id,
        )
    if total > CHANNEL_LINKS_SHOWN:
        st.page_link(
            CHANNELS_PAGE,
            label=f"All {total:,} channels of this client on Channels and keys",
            icon="📋",
            query_params={"client": client_id},
        )


def _number(channel: ClientChannel) -> str:
    """The number, and its display name when it says more than the business name the view is titled with."""
    label = channel.label
    if not label.number:
        return f"channel {label.channel_id}"
    if label.phone_name and label.phone_name != label.client_name:
        return f"{label.number} ({label.phone_name})"
    return label.number


def timeline_table(entries: list[ClientTimelineEntry]) -> None:
    if not entries:
        st.text("Nothing recorded for this client yet.")
        return
    frame = pd.DataFrame(
        [
            {
                "when": exact(entry.at),
                "channel": entry.channel,
                "what": entry.what,
                "who": entry.who,
                "detail": entry.detail,
            }
            for entry in entries
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
