"""Rendering pieces of the audit page: the entries as a table, each channel named by its number and business
with a link to it, and a bulk run as one line that opens its own rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard.times import exact, relative
from services.audit_words import action_words, what_happened
from services.channels.labels import ChannelLabel

# Key columns first: on a narrow screen the table scrolls sideways and these stay in view (pinned).
COLUMNS = ("when", "operator", "what", "channel", "business", "open", "detail", "time (UTC)")
PINNED = ("when", "operator")


def channel_link(channel_id: str | None) -> str | None:
    """Where the Channels page opens that channel: `/channels?open=<id>`, relative to this page so that a
    console served under a path prefix links within it."""
    return f"channels?open={quote(channel_id, safe='')}" if channel_id else None


def run_link(run_id: int) -> str:
    """This page with one bulk run's own rows: `/audit?run=<id>`."""
    return f"audit?run={run_id}"


def run_in_view(value: str | None) -> int | None:
    """The bulk run the URL names (`?run=<id>`); a value that is not a run's number shows every entry."""
    return int(value) if value and value.isdigit() else None


def action_label(action: str) -> str:
    return action_words(action)


def _label(row: dict[str, Any]) -> ChannelLabel | None:
    if not row.get("channel_id"):
        return None
    return ChannelLabel(
        row["channel_id"], row.get("phone_number"), row.get("phone_name"), row.get("client_id"), row.get("client_name")
    )


def _detail(row: dict[str, Any]) -> str:
    detail = row.get("detail") or ""
    if row.get("run_rows"):
        return f"{detail} · {row['run_rows']:,} rows: open the run to see each".lstrip(" ·")
    return detail


def _link(row: dict[str, Any]) -> str | None:
    return run_link(row["id"]) if row.get("run_rows") else channel_link(row.get("channel_id"))


def audit_frame(rows: list[dict[str, Any]], now: datetime | None = None) -> pd.DataFrame:
    """Words a person reads: what happened as a sentence, the channel by number and business, never `None`."""
    shown = []
    for row in rows:
        label = _label(row)
        shown.append(
            {
                "when": relative(row["at"], now=now),
                "operator": row["operator"] or "",
                "what": what_happened(row["action"], row["outcome"]),
                "channel": label.text if label else "",
                "business": label.business if label else "",
                "open": _link(row),
                "detail": _detail(row),
                "time (UTC)": exact(row["at"])[:-4],
            }
        )
    return pd.DataFrame(shown, columns=list(COLUMNS))


def audit_table(rows: list[dict[str, Any]]) -> None:
    config: dict[str, Any] = {name: st.column_config.Column(pinned=True) for name in PINNED}
    config["open"] = st.column_config.LinkColumn(
        "open", display_text=r"(channel|run)", help="Opens the channel on the Channels page, or the bulk run's rows"
    )
    st.dataframe(audit_frame(rows), hide_index=True, width="stretch", column_config=config)
