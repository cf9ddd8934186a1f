"""Events: partner webhooks as the receiver stored them, live, filtered, searchable, exportable."""

import streamlit as st

from dashboard.context import get_db
from dashboard.event_views import event_detail, event_label, events_chart, events_table
from dashboard.widgets import TIME_RANGES, capped, since_for
from services.channels.account_alerts import alert_notes
from services.events.store import (
    COUNT_CAP,
    EXPORT_MAX_ROWS,
    EventFilter,
    count_events,
    event_types,
    events_csv,
    events_per_hour,
    page_events,
)
from services.events.store import event_detail as load_event

PAGE_SIZE = 50
REFRESH_SECONDS = 2

st.title("Events")
db = get_db()

type_col, client_col, channel_col, range_col = st.columns(4)
event_type = type_col.selectbox("Event type", ["All", *event_types(db)], key="events_type")
client_id = client_col.text_input("Client id", key="events_client").strip()
channel_id = channel_col.text_input("Channel id", key="events_channel").strip()
time_range = range_col.selectbox("Time range", list(TIME_RANGES), index=1, key="events_range")
search_col, live_col = st.columns([3, 1])
search = search_col.text_input("Search in payloads", key="events_search", placeholder="text inside the JSON body")
live = live_col.toggle("Live", value=True, key="events_live", help="Refresh every 2 seconds; switch off to pause")

filters = EventFilter(
    event_type=None if event_type == "All" else event_type,
    client_id=client_id or None,
    channel_id=channel_id or None,
    since=since_for(time_range),
    search=search,
)
if filters.search_text:
    st.caption("Search looks inside the newest 20,000 events that match the other filters.")

# Keyset paging: a stack of cursors, one per page already seen; new filters start at the newest page.
# The time range's start moves with the clock, so the choice (not the computed time) identifies the view.
view = (filters.event_type, filters.client_id, filters.channel_id, time_range, filters.search_text)
if st.session_state.get("events_view") != view:
    st.session_state["events_view"] = view
    st.session_state["events_cursors"] = []


def go_older(cursor: tuple[str, int] | None) -> None:
    if cursor is not None:
        st.session_state["events_cursors"].append(cursor)


def go_newer() -> None:
    st.session_state["events_cursors"].pop()


def go_newest() -> None:
    st.session_state["events_cursors"] = []


def open_selected_row() -> None:
    # Rows are mapped back through the ids rendered with the table, since a live refresh may shift them.
    rows = st.session_state["events_table"].selection.rows
    ids = st.session_state.get("events_page_ids", [])
    if rows and rows[0] < len(ids):
        st.session_state["events_open"] = ids[rows[0]]


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def live_events() -> None:
    cursors = st.session_state["events_cursors"]
    rows = page_events(db, filters, limit=PAGE_SIZE, before=cursors[-1] if cursors else None)
    total = count_events(db, filters)
    events_chart(events_per_hour(db, filters))
    st.text(f"{capped(total, COUNT_CAP)} matching events · page {len(cursors) + 1}, newest first")
    if not rows:
        st.info("No webhook matches." if total or cursors else "No webhook has arrived yet.")
    else:
        st.session_state["events_page_ids"] = [row["id"] for row in rows]
        notes = alert_notes(db, rows)
        events_table(
            [{**row, "note": notes.get(row["id"], "")} for row in rows], key="events_table", on_select=open_selected_row
        )
    newest, newer, older, export = st.columns(4)
    newest.button("Newest", on_click=go_newest, disabled=not cursors, width="stretch")
    newer.button("Newer", on_click=go_newer, disabled=not cursors, width="stretch")
    older.button(
        "Older",
        on_click=go_older,
        args=((rows[-1]["received_at"], rows[-1]["id"]) if rows else None,),
        disabled=len(rows) < PAGE_SIZE,
        width="stretch",
    )
    export.download_button(
        f"CSV (up to {EXPORT_MAX_ROWS:,} rows)",
        data=lambda: events_csv(db, filters),
        file_name="events.csv",
        mime="text/csv",
        on_click="ignore",
        width="stretch",
    )
    if rows:
        labels = {row["id"]: event_label(row) for row in rows}
        chosen = st.selectbox(
            "Open an event (or select its row)",
            [None, *labels],
            format_func=lambda i: labels.get(i, "—"),
            key="events_open",
        )
        if chosen is not None:
            event = load_event(db, chosen)
            if event is None:
                st.error("That event is no longer stored.")
            else:
                event_detail(event, alert_notes(db, [event]).get(event["id"]))


live_events()
