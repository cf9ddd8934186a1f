"""Rendering pieces of the audit page: the entries as a table, each linking to its channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard.times import exact, relative

# Key columns first: on a narrow screen the table scrolls sideways and these stay in view (pinned).
COLUMNS = ("when", "operator", "action", "outcome", "channel", "detail", "time (UTC)")
PINNED = ("when", "operator")


def channel_link(channel_id: str | None) -> str | None:
    """Where the Channels page opens that channel: `/channels?open=<id>`, relative to this page so that a
    console served under a path prefix links within it."""
    return f"channels?open={quote(channel_id, safe='')}" if channel_id else None


def action_label(action: str) -> str:
    return action.replace("_", " ")


def audit_frame(rows: list[dict[str, Any]], now: datetime | None = None) -> pd.DataFrame:
    shown = [
        {
            "when": relative(row["at"], now=now),
            "operator": row["operator"],
            "action": action_label(row["action"]),
            "outcome": row["outcome"],
            "channel": channel_link(row["channel_id"]),
            "detail": row["detail"],
            "time (UTC)": exact(row["at"])[:-4],
        }
        for row in rows
    ]
    return pd.DataFrame(shown, columns=list(COLUMNS))


def audit_table(rows: list[dict[str, Any]]) -> None:
    config: dict[str, Any] = {name: st.column_config.Column(pinned=True) for name in PINNED}
    config["channel"] = st.column_config.LinkColumn(
        "channel", display_text=r"channels\?open=(.*)", help="Opens the channel on the Channels page"
    )
    st.dataframe(audit_frame(rows), hide_index=True, width="stretch", column_config=config)
