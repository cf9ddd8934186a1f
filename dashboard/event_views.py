"""Rendering pieces of the Events page: the table, the chart, one event opened."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.audit_views import channel_link
from dashboard.context import get_db
from dashboard.times import exact, parse, relative
from services.channels.labels import ChannelLabel, channel_labels
from services.read_models.redirects import client_names

# Key columns first: on a narrow screen the table scrolls sideways and these stay in view (pinned).
TABLE_COLUMNS = {
    "received": "received",
    "event_type": "event type",
    "channel": "channel",
    "business": "business",
    "open": "open",
    "status": "status",
    "note": "note",
    "received_utc": "received (UTC)",
    "signature_verdict": "signature",
    "duplicate_count": "duplicates",
    "id": "id",
}
PINNED = ("received", "event type")
# Each time range's chart buckets: minutes for the last hour, hours for a day, days beyond.
BUCKETS = {"Last hour": "minute", "Last 24 hours": "hour"}
BUCKET_STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
BUCKET_FORMATS = {"minute": "%H:%M", "hour": "%H:%M", "day": "%b %d"}
BUCKET_UNITS = {"minute": "utcyearmonthdatehoursminutes", "hour": "utcyearmonthdatehours", "day": "utcyearmonthdate"}
CHART_HEIGHT = 180


def bucket_for(time_range: str) -> str:
    return BUCKETS.get(time_range, "day")


def _business(row: dict[str, Any], label: ChannelLabel | None, clients: dict[str, str]) -> str:
    """The client's name, else the channel's; the client's id only while no name is known; never `None`."""
    client_id = row.get("client_id") or (label.client_id if label else None)
    if client_id and clients.get(client_id):
        return clients[client_id]
    if label and (label.client_name or label.phone_name):
        return label.business
    return f"client {client_id}" if client_id else ""


def table_frame(
    rows: list[dict[str, Any]],
    now: datetime | None = None,
    *,
    labels: dict[str, ChannelLabel] | None = None,
    clients: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The page's rows as the table shows them: when, relative and exact, then what, and whose: the channel by
    its number, the business by its name, a link to the channel."""
    labels, clients = labels or {}, clients or {}
    shown = []
    for row in rows:
        label = labels.get(row["channel_id"]) if row.get("channel_id") else None
        shown.append(
            {
                **row,
                "received": relative(row["received_at"], now=now),
                "received_utc": exact(row["received_at"])[:-4],
                "channel": label.text if label else "",
                "business": _business(row, label, clients),
                "open": channel_link(row.get("channel_id")),
                "status": row.get("status") or "",
                "signature_verdict": row.get("signature_verdict") or "",
                "duplicate_count": row.get("duplicate_count") or 0,
            }
        )
    return pd.DataFrame(shown, columns=list(TABLE_COLUMNS)).rename(columns=TABLE_COLUMNS)


def events_table(rows: list[dict[str, Any]], *, key: str, on_select: Callable[[], None]) -> None:
    """The page's events; selecting a row calls `on_select` (the page maps the row back to its event). A row's
    `note` says which channel an account alert's number belongs to, or that none does."""
    db = get_db()
    labels = channel_labels(db, (row["channel_id"] for row in rows if row.get("channel_id")))
    clients = client_names(db, [row.get("client_id") for row in rows] + [label.client_id for label in labels.values()])
    config: dict[str, Any] = {name: st.column_config.Column(pinned=True) for name in PINNED}
    config["open"] = st.column_config.LinkColumn(
        "open", display_text=r"(channel)", help="Opens the channel on the Channels page"
    )
    st.dataframe(
        table_frame(rows, labels=labels, clients=clients),
        hide_index=True,
        width="stretch",
        key=key,
        on_select=on_select,
        selection_mode="single-row",
        column_config=config,
    )


def chart_frame(
    rows: list[dict[str, Any]], bucket: str, since: str | None, now: datetime | None = None
) -> tuple[pd.DataFrame, tuple[datetime, datetime]]:
    """Counts per bucket and type with each bucket as a UTC time, and the span the x axis covers: the whole
    chosen range (or from the first bucket, for all time) up to now, so one busy hour is a bar, not the chart."""
    now = now or datetime.now(UTC)
    frame = pd.DataFrame(rows, columns=["bucket", "event_type", "events"])
    frame["time"] = pd.to_datetime(frame["bucket"], utc=True, format="ISO8601")
    step = BUCKET_STEPS[bucket]
    start = parse(since) or (frame["time"].min().to_pydatetime() if len(frame) else now - step)
    return frame, (start, now + step)


def events_chart(rows: list[dict[str, Any]], bucket: str, since: str | None) -> None:
    """Stacked bars per bucket and type over the chosen range, at a readable height, the legend whole below."""
    if not rows:
        return
    frame, (start, end) = chart_frame(rows, bucket, since)
    longest = int(frame["event_type"].str.len().max())
    columns = 3 if longest <= 20 else 2 if longest <= 30 else 1  # the whole legend within 800 px
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "time:T",
                timeUnit=BUCKET_UNITS[bucket],
                title=f"{bucket} (UTC)",
                scale=alt.Scale(domain=[start.isoformat(), end.isoformat()]),
                axis=alt.Axis(format=BUCKET_FORMATS[bucket], labelAngle=0, labelOverlap=True, tickCount=6),
            ),
            y=alt.Y("sum(events):Q", title="events"),
            color=alt.Color(
                "event_type:N",
                title=None,
                legend=alt.Legend(
                    orient="bottom", direction="horizontal", columns=columns, labelLimit=0, symbolLimit=0
                ),
            ),
            tooltip=[
                alt.Tooltip("time:T", timeUnit=BUCKET_UNITS[bucket], title=f"{bucket} (UTC)"),
                alt.Tooltip("event_type:N", title="event type"),
                alt.Tooltip("sum(events):Q", title="events"),
            ],
        )
        # The plot keeps its height; the axis titles and the legend come on top of it, not out of it.
        .properties(height=CHART_HEIGHT, autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    )
    st.altair_chart(chart, width="stretch")


def event_detail(event: dict[str, Any], note: str | None = None) -> None:
    """Payload pretty and raw, headers, signature verdict, duplicates: all rendered as text or JSON."""
    st.subheader(f"Event #{int(event['id'])}")
    st.text(event["event_type"])
    if note:
        st.text(f"Phone number: {note}")
    received, duplicates = st.columns(2)
    received.metric("Received", relative(event["received_at"]), help=exact(event["received_at"]))
    duplicates.metric("Duplicates received", event["duplicate_count"] or 0)
    st.text(f"Received at {exact(event['received_at'])} · signature: {event['signature_verdict'] or 'not recorded'}")
    if event["last_duplicate_at"]:
        st.text(f"Last duplicate at {exact(event['last_duplicate_at'])} ({relative(event['last_duplicate_at'])})")
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
