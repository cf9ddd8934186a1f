"""Rendering pieces of the home page: the day's picture, each part with a link into the page that has it all."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.channel_views import funnel_metrics
from dashboard.plain_text import escape_markdown
from dashboard.times import human, relative
from dashboard.widgets import plural
from services.channels.next_steps import next_step
from services.read_models.today import DayPicture

# page_link resolves paths against the entry script's folder (dashboard/); absolute paths are unambiguous.
PAGES = Path(__file__).resolve().parent.parent / "pages"
CHANNELS_PAGE = str(PAGES / "channels.py")
ALERTS_PAGE = str(PAGES / "alerts.py")
EVENTS_PAGE = str(PAGES / "events.py")
RECEIVER_PAGE = str(PAGES / "receiver.py")
# The Channels page's URL parameters: the channel in its own view, and the work queue's reason chip.
OPEN = "open"
NEEDS = "needs"


def when(stamp: str | None, *, never: str) -> str:
    """'3 min ago (2026-12-04 23:58:00 UTC)', or `never` when nothing happened yet."""
    return human(stamp) if stamp else never


def funnel_section(picture: DayPicture) -> None:
    st.subheader("Channels by stage")
    funnel_metrics(picture.funnel)
    st.page_link(CHANNELS_PAGE, label="Every channel and key", icon=":material/smartphone:")


def attention_section(picture: DayPicture) -> None:
    st.subheader(f"Needs attention now ({picture.queue_size:,})")
    if not picture.queue_size:
        st.text("Nothing needs attention: every channel is where it should be.")
        return
    chips = st.container(horizontal=True)
    for reason, count in picture.reasons.items():
        chips.page_link(CHANNELS_PAGE, label=escape_markdown(f"{reason} ({count:,})"), query_params={NEEDS: reason})
    for row in picture.top_of_queue:
        st.page_link(
            CHANNELS_PAGE,
            label=escape_markdown(f"{row.label.text} · {row.reason}"),
            icon=":material/arrow_forward:",
            query_params={OPEN: row.channel_id},
        )
        st.caption(escape_markdown(f"What to do: {next_step(row.reason)}"))
    if picture.queue_size > len(picture.top_of_queue):
        st.page_link(CHANNELS_PAGE, label=f"The whole work queue ({picture.queue_size:,})")


def alerts_section(picture: DayPicture) -> None:
    st.subheader("Firing alerts")
    if not picture.alerts:
        st.text("No alert is firing.")
    for alert in picture.alerts:
        st.text(f"{alert.title} · {alert.about} · since {relative(alert.fired_at)}")
    st.page_link(ALERTS_PAGE, label="Alerts: rules, firing and sent", icon=":material/notifications:")


def freshness_section(picture: DayPicture) -> None:
    st.subheader("Last heard")
    sync = picture.last_sync
    sync_text = f"{when(sync.started_at, never='')} by {sync.by}: {sync.outcome}" if sync else "no sync yet"
    st.text(f"Last sync from the Partner API: {sync_text}")
    st.page_link(CHANNELS_PAGE, label="Sync from Channels and keys", icon=":material/sync:")
    st.text(f"Last webhook received: {when(picture.last_webhook_at, never='none yet')}")
    st.page_link(EVENTS_PAGE, label="Events", icon=":material/webhook:")
    key_round = picture.key_round
    if key_round is None:
        st.text("Key health: no round has checked the keys yet.")
    else:
        st.text(
            f"Key health, last round {when(key_round.finished_at or key_round.started_at, never='')}: "
            f"{plural(key_round.checked, 'key')} checked, {key_round.stopped:,} stopped working, "
            f"{key_round.could_not_check:,} could not be checked"
        )
    st.page_link(RECEIVER_PAGE, label="Receiver health", icon=":material/monitor_heart:")


def day_picture_view(picture: DayPicture) -> None:
    # The short parts first, side by side; the work queue, the longest, below them at the page's full width.
    funnel_section(picture)
    left, right = st.columns(2)
    with left:
        alerts_section(picture)
    with right:
        freshness_section(picture)
    attention_section(picture)
