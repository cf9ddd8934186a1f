"""Events: partner webhooks as the receiver stored them, live, filtered, searchable, exportable.

The filters and the open event live in the URL (`/events?type=channel_created&events_q=...&open=<id>`): a reload
keeps them, and an operator can paste the link to a colleague. Each widget's key is its URL parameter, named for
this page where another page has a filter like it: the session keeps a widget's value under its key, so a shared
key would carry one page's filter into the other's URL.
"""

import streamlit as st

from dashboard.context import get_db, require_settings
from dashboard.event_views import bucket_for, event_detail, events_chart, events_table
from dashboard.widgets import TIME_RANGES, capped, since_for
from services.channels.account_alerts import alert_notes
from services.events.search import MIN_PREFIX, has_words, is_short_prefix
from services.events.store import (
    EXPORT_MAX_ROWS,
    EventFilter,
    SearchFailed,
    count_events,
    event_types,
    events_csv,
    events_over_time,
    page_events,
    signature_verdicts,
)
from services.events.store import event_detail as load_event

PAGE_SIZE = 50
REFRESH_SECONDS = 2
ANY = "All"
SEARCH_HELP = (
    "Searches every stored event: whole words in the order typed (end with * for words that start so, after "
    f"at least {MIN_PREFIX} letters or digits). A phone number in any spelling or a business or display name "
    "(accents and case ignored, words by their start) also finds every event of the numbers it names."
)

st.title("Events")
db = get_db()

search_col, range_col, live_col = st.columns([5, 3, 2], vertical_alignment="bottom")
search = search_col.text_input(
    "Search", key="events_q", bind="query-params", placeholder="a word, an id, a number, a name", help=SEARCH_HELP
)
time_range = range_col.selectbox("Time range", list(TIME_RANGES), index=1, key="events_range", bind="query-params")
live = live_col.toggle("Live", value=True, key="events_live", help="Refresh every 2 seconds; switch off to pause")
type_col, verdict_col, client_col, channel_col = st.columns(4)
types = event_types(db)
event_type = type_col.selectbox("Event type", [ANY, *types], key="type", bind="query-params")
verdict = verdict_col.selectbox("Signature", [ANY, *signature_verdicts(db)], key="verdict", bind="query-params")
client_id = client_col.text_input("Client id", key="events_client", bind="query-params").strip()
channel_id = channel_col.text_input("Channel id", key="events_channel", bind="query-params").strip()

filters = EventFilter(
    event_type=None if event_type == ANY else event_type,
    client_id=client_id or None,
    channel_id=channel_id or None,
    since=since_for(time_range),
    search=search,
    verdict=None if verdict == ANY else verdict,
    region=require_settings().phone_region,
)
if filters.search_text and not has_words(filters.search_text):
    st.caption("The search finds words and numbers: type at least one letter or digit.")
elif is_short_prefix(filters.search_text):
    st.caption(
        f"A word ending in * finds the words that start so once it has {MIN_PREFIX} letters or digits; "
        "until then the search finds the whole word."
    )

# Keyset paging: a stack of cursors, one per page already seen; new filters start at the newest page.
# The time range's start moves with the clock, so the choice (not the computed time) identifies the view.
view = (filters.event_type, filters.client_id, filters.channel_id, filters.verdict, time_range, filters.search_text)
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


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def live_events() -> None:
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
        st.info("No webhook matches." if types else "No webhook has arrived yet.")
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


live_events()
