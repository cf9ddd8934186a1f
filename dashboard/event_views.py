"""Rendering pieces of the Events page: the table, the chart, one event opened."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

TABLE_COLUMNS = [
    "id",
    "received_at",
    "event_type",
    "channel_id",
    "client_id",
    "status",
    "signature_verdict",
    "duplicate_count",
    "note",
]


def events_table(rows: list[dict[str, Any]], *, key: str, on_select: Callable[[], None]) -> None:
    """The page's events; selecting a row calls `on_select` (the page maps the row back to its event). A row's
    `note` says which channel an account alert's number belongs to, or that none does."""
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS).rename(columns={"duplicate_count": "duplicates"})
    st.dataframe(frame, hide_index=True, width="stretch", key=key, on_select=on_select, selection_mode="single-row")


def events_chart(hours: list[dict[str, Any]]) -> None:
    if not hours:
        return
    frame = pd.DataFrame(hours).pivot_table(index="hour", columns="event_type", values="events", fill_value=0)
    st.bar_chart(frame, height=220, x_label="hour (UTC)", y_label="events")


def event_label(row: dict[str, Any]) -> str:
    return f"#{row['id']} · {row['event_type']} · {row['received_at'][:19]}"


def event_detail(event: dict[str, Any], note: str | None = None) -> None:
    """Payload pretty and raw, headers, signature verdict, duplicates: all rendered as text or JSON."""
    if note:
        st.text(f"Phone number: {note}")
    left, middle, right = st.columns(3)
    left.metric("Signature", event["signature_verdict"] or "not recorded")
    middle.metric("Duplicates received", event["duplicate_count"] or 0)
    right.metric("Received (UTC)", (event["received_at"] or "")[:19])
    if event["last_duplicate_at"]:
        st.text("Last duplicate at " + event["last_duplicate_at"])
    pretty, raw, headers = st.tabs(["Payload", "Raw body", "Request headers"])
    with pretty:
        if event["payload"] is None:
            st.warning("The stored body is not JSON; see the raw body.")
        else:
            st.json(event["payload"], expanded=2)
    with raw:
        st.code(event["raw_body"], language=None, wrap_lines=True)
    with headers:
        st.code(json.dumps(event["headers"], indent=2, ensure_ascii=False), language="json")
