"""Clients: every client with its numbers, searched and paged; one client at a time in its own view (linked as
/clients?open=<client_id>) with its channels, its redirects and one timeline."""

import streamlit as st

from dashboard.client_views import client_channel_links, client_facts, clients_table, timeline_table
from dashboard.context import get_db, require_settings
from dashboard.linked_view import LinkedView
from dashboard.widgets import SEARCH_HELP, capped, pager, plural
from services.read_models.channel_list import COUNT_CAP
from services.read_models.clients import (
    PAGE_SIZE,
    TIMELINE_CHANNELS,
    client_channels,
    client_redirects,
    client_search,
    client_summary,
    client_timeline,
    count_clients,
    page_clients,
)

view = LinkedView("client")  # the client shown in its own view: /clients?open=<id>
# The search's key is its URL parameter, named for this page so that no other page's search comes along.
SEARCH_KEY = "clients_q"

st.title("Clients")
st.caption(
    "Each client with its numbers, as 360dialog's hub groups them. Open one for its channels, redirects and timeline."
)
db = get_db()


def clear_search() -> None:
    st.session_state[SEARCH_KEY] = ""


def client_view(client_id: str) -> None:
    client = client_summary(db, client_id)
    if client is None:
        st.info("This client is not known here (yet). Its first webhook, redirect or a sync will bring it.")
        return
    client_facts(client)
    channels = client_channels(db, client_id)
    redirects = client_redirects(db, client_id)
    numbers_tab, redirects_tab, timeline_tab = st.tabs(
        [f"Numbers ({client.channels:,})", f"Redirects ({len(redirects)})", "Timeline"]
    )
    with numbers_tab:
        client_channel_links(channels, client_id, client.channels)
    with redirects_tab:
        if redirects:
            st.dataframe(
                redirects,
                hide_index=True,
                width="stretch",
                column_order=["received", "verdict", "channels", "revoked", "state", "why", "decided by", "id"],
            )
        else:
            st.text("No redirect has come back for this client.")
    with timeline_tab:
        if client.channels > TIMELINE_CHANNELS:
            st.caption(f"The {TIMELINE_CHANNELS} most recently changed of its {client.channels:,} channels.")
        timeline_table(client_timeline(db, client_id, channels))


def show_client(client_id: str) -> None:
    client = client_summary(db, client_id)
    title = client.label if client else f"client {client_id}"
    st.dialog(title, width="large", on_dismiss=view.close)(client_view)(client_id)


search = st.text_input(
    "Search",
    key=SEARCH_KEY,
    placeholder="business name, client id, number (any format)",
    bind="query-params",
    help=SEARCH_HELP,
)
found = client_search(db, search, region=require_settings().phone_region)  # read once for the count and the page
total = count_clients(db, found)
page, pages = pager(total, PAGE_SIZE, cap=COUNT_CAP)
rows = page_clients(db, found, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
round_ = view.selection_round
if not rows:
    if search.strip():
        st.info("No client matches this search.")
        st.button("Clear the search", on_click=clear_search, key="clear-search")
    else:
        st.info("No client yet. Hand a client an onboarding link from the Connect page.")
else:
    count = plural(total, "client") if total < COUNT_CAP else capped(total, COUNT_CAP) + " clients"
    st.caption(count + (f" · page {page} of {pages}" if pages > 1 else ""))
    table_key = f"clients_table_{round_}"
    # A selection indexes the rows as they were drawn: mapped through the ids drawn with them.
    state = st.session_state.get(table_key)
    selected = state["selection"]["rows"] if state is not None else []
    drawn = st.session_state.get("client_ids", [])
    if selected and selected[0] < len(drawn):
        view.choose(drawn[selected[0]])
    st.session_state["client_ids"] = [row.id for row in rows]
    clients_table(rows, key=table_key, on_select="rerun")

# The client in view is the one the URL names (a row chosen here, a pasted link, a reload).
opened = view.current
if opened:
    view.remember(opened)
    show_client(opened)
