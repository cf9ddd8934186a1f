"""Events: partner webhooks as the receiver stored them, live, filtered, searchable, exportable.

The filters and the open event live in the URL (`/events?type=channel_created&events_q=...&open=<id>`): a reload
keeps them, and an operator can paste the link to a colleague. Each widget's key is its URL parameter, named for
this page where another page has a filter like it: the session keeps a widget's value under its key, so a shared
key would carry one page's filter into the other's URL.
"""

import streamlit as st

from dashboard.context import get_db, require_settings
from dashboard.event_list import live_events, reset_paging_on_a_new_view
from dashboard.widgets import TIME_RANGES, since_for
from services.events.search import MIN_PREFIX, has_words, is_short_prefix
from services.events.store import EventFilter, event_types, signature_verdicts

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

# The time range's start moves with the clock, so the choice (not the computed time) identifies the view.
view = (filters.event_type, filters.client_id, filters.channel_id, filters.verdict, time_range, filters.search_text)
reset_paging_on_a_new_view(view)
live_events(filters, time_range, any_event=bool(types), live=live)
