"""The Channels page's workbench: the filters (kept in the URL), the funnel, the work queue and the list of
channels refreshed together, and the channel the URL names opened in its dialog."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from dashboard import context
from dashboard.channel_dialog import show_channel
from dashboard.channel_views import channels_table, funnel_metrics, queue_table, reason_filter
from dashboard.context import get_db, open_own_db, require_settings
from dashboard.key_views import shown_once_key
from dashboard.linked_view import LinkedView
from dashboard.widgets import SEARCH_HELP, capped, key_badge, pager, plural
from services.read_models.channel_list import (
    COUNT_CAP,
    FUNNEL_STAGES,
    KEY_STATUSES,
    ChannelFilter,
    count_channels,
    funnel,
    page_channels,
)
from services.read_models.workbench import QueueRow, channels_csv, matches_filter, reason_counts, work_queue

PAGE_SIZE = 50
REFRESH_SECONDS = 3
view = LinkedView("channel")  # the channel shown in its own view: /channels?open=<id>
QUEUE_CHOICE = "channels_queue_choice"  # the channel the work queue's selected row names
QUEUE_JUST_READ = "channels_queue_just_read"  # the queue as read by the run that opened a chosen row
# Each filter widget's key is its URL parameter, named for this page: a key another page also used would carry
# that page's filter here (the session keeps a widget's value under its key).
FILTER_KEYS = {"channels_q": "", "status": None, "key": None, "channels_client": ""}


def channel_filters() -> ChannelFilter:
    """The filters' row, kept in the URL so a reload or a pasted link shows the same list."""
    search_col, status_col, key_col, client_col = st.columns([3, 2, 2, 2])
    return ChannelFilter(
        search=search_col.text_input(
            "Search",
            key="channels_q",
            placeholder="number (any format), name or business",
            bind="query-params",
            help=SEARCH_HELP,
        ),
        status=status_col.selectbox(
            "Status", [None, *FUNNEL_STAGES], format_func=lambda s: s or "All", key="status", bind="query-params"
        ),
        key_status=key_col.selectbox(
            "Key",
            [None, *KEY_STATUSES],
            format_func=lambda s: key_badge(s) if s else "All",
            key="key",
            bind="query-params",
        ),
        client_id=client_col.text_input("Client id", key="channels_client", bind="query-params").strip() or None,
        region=require_settings().phone_region,
    )


def is_filtered(filters: ChannelFilter) -> bool:
    return filters != ChannelFilter(region=filters.region)


def csv_export(filters: ChannelFilter) -> Callable[[], str]:
    """The list as CSV, built when the download is clicked, on a connection of its own."""

    def build() -> str:
        export_db = open_own_db()
        try:
            return channels_csv(export_db, filters)
        finally:
            export_db.close()

    return build


def workbench(filters: ChannelFilter, *, live: bool) -> None:
    """Funnel, work queue and list together, so one refresh moves them all."""
    st.fragment(_workbench, run_every=REFRESH_SECONDS if live else None)(filters)


def _workbench(filters: ChannelFilter) -> None:
    db = get_db()
    funnel_metrics(funnel(db))
    round_ = view.selection_round
    queue = current_queue()
    if queue:
        st.subheader(f"Needs attention ({len(queue):,})")
        reason = reason_filter(reason_counts(queue), key="needs")
        shown = [row for row in queue if reason in (None, row.reason)]
        st.session_state["queue_ids"] = [row.channel_id for row in shown]
        queue_table(shown, key=f"queue_table_{round_}", on_select="rerun")
    channel_list(filters, round_)
    from_queue = selected_id(f"queue_table_{round_}", "queue_ids")
    st.session_state[QUEUE_CHOICE] = from_queue
    chosen = from_queue or selected_id(f"channels_table_{round_}", "table_ids")
    if view.choose(chosen):
        st.session_state[QUEUE_JUST_READ] = (time.monotonic(), queue)
        st.rerun()


def current_queue() -> list[QueueRow]:
    """The work queue, read once per choice: a chosen row reruns the whole page at once to open its channel, and
    that run shows the queue its choice was made in (read a moment before) rather than reading it again. Kept
    no longer than a live refresh's interval, should that run not come (a page left at once)."""
    read_at, queue = st.session_state.pop(QUEUE_JUST_READ, (0.0, None))
    if queue is not None and time.monotonic() - read_at < REFRESH_SECONDS:
        return queue
    return work_queue(get_db(), stuck_after_minutes=require_settings().stuck_after_minutes)


def channel_list(filters: ChannelFilter, round_: int) -> None:
    filtered = is_filtered(filters)
    st.subheader("All channels" if not filtered else "Channels matching the filters")
    db = get_db()
    total = count_channels(db, filters)
    page, pages = pager(total, PAGE_SIZE, cap=COUNT_CAP)
    rows = page_channels(db, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    if not rows:
        if filtered:
            st.info("No channel matches these filters.")
            st.button("Clear the filters", on_click=clear_filters, key="clear-filters")
        else:
            st.info("No channel yet. Hand a client an onboarding link from the Connect page.")
        return
    st.caption(f"{plural(total, 'channel') if total < COUNT_CAP else capped(total, COUNT_CAP) + ' channels'}"
               + (f" · page {page} of {pages}" if pages > 1 else ""))  # fmt: skip
    st.session_state["table_ids"] = [row["id"] for row in rows]
    channels_table(rows, key=f"channels_table_{round_}", on_select="rerun")


def clear_filters() -> None:
    for name, empty in FILTER_KEYS.items():
        st.session_state[name] = empty


def selected_id(table_key: str, ids_key: str) -> str | None:
    # Mapped through the ids rendered with the table: a live refresh may have reordered it since.
    state = st.session_state.get(table_key)
    rows = state.selection.rows if state is not None else []
    ids = st.session_state.get(ids_key, [])
    return ids[rows[0]] if rows and rows[0] < len(ids) else None


def opened_channel(filters: ChannelFilter) -> None:
    """The channel in view is the one the URL names (a row chosen here, a pasted link, a reload), and closes when
    the filters hide it, unless it was chosen in the work queue (which the filters do not narrow). The session
    only remembers it to tell a newly chosen row from the one already open."""
    opened = view.current
    chosen_in_queue = opened is not None and opened == st.session_state.get(QUEUE_CHOICE)
    if opened and (not is_filtered(filters) or chosen_in_queue or matches_filter(get_db(), filters, opened)):
        view.remember(opened)
        show_channel(opened, view)
    elif opened:
        view.close()
    if st.session_state.get("new_key") and not opened:
        shown_once_key(get_db(), context.current_person())
