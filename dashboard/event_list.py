"""The Events page's live list: the chart, one page of events with keyset paging (newest, newer, older), the
export, and the event opened by its id (kept in the URL)."""

from __future__ import annotations

import streamlit as st

from dashboard.context import get_db
from dashboard.event_views import bucket_for, event_detail, events_chart, events_table
from dashboard.widgets import capped
from services.channels.account_alerts import alert_notes
from services.events.store import (
    EXPORT_MAX_ROWS,
    EventFilter,
    SearchFailed,
    count_events,
    events_csv,
    events_over_time,
    page_events,
)
from services.events.store import event_detail as load_event

PAGE_SIZE = 50
REFRESH_SECONDS = 2


def reset_paging_on_a_new_view(view: tuple[object, ...]) -> None:
    """Keyset paging: a stack of cursors, one per page already seen; new filters start at the newest page."""
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
        st.session_state["open"] = ids[rows[0]]


def close_event() -> None:
    st.session_state["open"] = None


def live_events(filters: EventFilter, time_range: str, *, any_event: bool, live: bool) -> None:
    """The chart, the page of events, paging and export, and the open event: refreshed together while live."""
    st.fragment(_live_events, run_every=REFRESH_SECONDS if live else None)(filters, time_range, any_event)


def _live_events(filters: EventFilter, time_range: str, any_event: bool) -> None:
    db = get_db()
    cursors = st.session_state["events_cursors"]
    try:
        rows = page_events(db, filters, limit=PAGE_SIZE, before=cursors[-1] if cursors else None)
        total = count_events(db, filters)
        chart = events_over_time(db, filters, bucket_for(time_range))
    except SearchFailed as failed:
        st.warning(str(failed))  # our own sentence: it quotes nothing typed
        return
    events_chart(chart, bucket_for(time_range), filters.since)
    st.text(f"{capped(total, filters.count_cap)} matching events · page {len(cursors) + 1}, newest first")
    if not rows:
        st.info("No webhook matches." if any_event else "No webhook has arrived yet.")
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
        "Export CSV",
        data=lambda: events_csv(db, filters),
        file_name="events.csv",
        mime="text/csv",
        on_click="ignore",
        width="stretch",
        help=f"The filtered view, newest first, up to {EXPORT_MAX_ROWS:,} rows.",
    )
    open_col, close_col = st.columns([3, 1], vertical_alignment="bottom")
    chosen = open_col.number_input(
        "Open event #",
        min_value=1,
        step=1,
        value=None,
        key="open",
        bind="query-params",
        placeholder="select a row, or type an event's id",
    )
    if chosen is not None:
        close_col.button("Close event", on_click=close_event, width="stretch")
        event = load_event(db, int(chosen))
        if event is None:
            st.error(f"No event #{int(chosen)} is stored.")
        else:
            event_detail(event, alert_notes(db, [event]).get(event["id"]))
