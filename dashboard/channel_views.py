"""Rendering pieces of the Channels page: table, funnel, attention list, one channel in detail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboard.plain_text import escape_markdown
from dashboard.times import human, relative
from dashboard.widgets import key_badge, plural, status_badge
from services.channels.endings import cancellation_note, ended_reason
from services.channels.labels import ChannelLabel
from services.channels.next_steps import next_step
from services.channels.sync import REPORT_LIMIT, SyncReport
from services.keys.bulk import BulkSummary
from services.keys.readiness import DONE_STATUSES
from services.phone_numbers import spelled_out
from services.read_models.channel_timeline import TimelineEntry
from services.read_models.work_queue import quality_trouble
from services.read_models.workbench import QueueRow

TABLE_COLUMNS = {
    "phone_number": "phone",
    "phone_name": "display name",
    "client": "business",
    "status_badge": "status",
    "key_badge": "key",
    "quality_rating": "quality",
    "messaging_limit": "limit",
    "permission": "permission",
    "in_status_for": "in status for",
    "id": "channel id",
}
QUEUE_COLUMNS = {
    "reason": "needs",
    "channel": "channel",
    "business": "business",
    "next": "what to do",
    "detail": "detail",
    "since": "since",
}


def channels_table(rows: list[dict[str, Any]], *, key: str, on_select: Callable[[], None] | str) -> None:
    """Number, name and business first (what people search by), the id last."""
    shaped = [
        {
            **row,
            "phone_number": spelled_out(row["phone_number"]),
            "status_badge": status_badge(row["status"]),
            "key_badge": key_badge(row["key_status"]),
            "client": row["client_name"] or row["client_id"],
        }
        for row in rows
    ]
    frame = pd.DataFrame(shaped, columns=list(TABLE_COLUMNS)).rename(columns=TABLE_COLUMNS)
    st.dataframe(frame, hide_index=True, width="stretch", key=key, on_select=on_select, selection_mode="single-row")


def queue_table(rows: list[QueueRow], *, key: str, on_select: Callable[[], None] | str) -> None:
    """The work queue: what each channel needs, who it is, since when; a row opens the channel."""
    shaped = [
        {
            "reason": row.reason,
            "channel": row.label.text,
            "business": row.label.client_name or row.label.client_id or "",
            "next": next_step(row.reason),
            "detail": row.detail,
            "since": relative(row.since),
        }
        for row in rows
    ]
    frame = pd.DataFrame(shaped, columns=list(QUEUE_COLUMNS)).rename(columns=QUEUE_COLUMNS)
    st.dataframe(frame, hide_index=True, width="stretch", key=key, on_select=on_select, selection_mode="single-row")


def reason_filter(counts: dict[str, int], *, key: str) -> str | None:
    """One pill per reason with its count; choosing one narrows the queue to it. The choice lives in the URL
    (`?needs=stuck`), so a reload or a link handed to a colleague shows the same rows. Kept by hand rather than
    bound: a bound pill writes its label, count included, into the URL."""
    if key not in st.session_state:
        # First run on this page (a link, a reload): the URL says which, if it names a reason in the queue.
        wanted = st.query_params.get(key)
        st.session_state[key] = wanted if wanted in counts else None
    elif st.session_state[key] not in (None, *counts):
        st.session_state[key] = None  # the chosen reason has left the queue
    chosen = st.pills(
        "Needs",
        list(counts),
        format_func=lambda reason: f"{reason} ({counts.get(reason, 0)})",
        key=key,
        label_visibility="collapsed",
    )
    if chosen:
        st.query_params[key] = chosen
    else:
        st.query_params.pop(key, None)
    return chosen


def funnel_metrics(counts: dict[str, int]) -> None:
    # In a row that wraps, so a narrow screen moves a stage to the next line rather than cutting its name.
    row = st.container(horizontal=True, gap="large")
    for stage, count in counts.items():
        # Stages come from webhooks (any status 360dialog sends), and metric labels render markdown.
        row.metric(escape_markdown(stage), f"{count:,}", width="content")


def channel_facts(channel: dict[str, Any], key_status: str, label: ChannelLabel) -> None:
    """Untrusted values as plain text."""
    business = label.client_name or (f"client {label.client_id}" if label.client_id else "client not known yet")
    st.text(f"{label.number or 'number not known yet'} · {channel['phone_name'] or 'no display name yet'}")
    st.text(f"{business} · channel {channel['id']}")
    st.text(f"status: {channel['status'] or 'unknown'} · quality {channel['quality_rating'] or '-'} · "
            f"limit {channel['messaging_limit'] or '-'}")  # fmt: skip
    st.text(f"key: {key_badge(key_status)} · permission: {channel['permission'] or 'unknown'}")
    if channel.get("permission_detail"):
        st.text(f"permission: {channel['permission_detail']}")
    if channel.get("waba_id") or channel.get("portfolio_id"):
        st.text(
            f"WABA {channel.get('waba_id') or '-'} · business portfolio {channel.get('portfolio_id') or 'not named'}"
        )
    ended = ended_reason(channel)
    if ended:
        st.error("Ended: " + escape_markdown(ended), icon="⛔")
    pending = cancellation_note(channel)
    if pending:
        st.warning("Cancellation: " + escape_markdown(pending), icon="⚠️")
    if channel.get("key_refusal"):
        st.warning(
            "Refused by 360dialog: " + escape_markdown(channel["key_refusal"]) + ". Try again: the next key request"
            " asks 360dialog again.",
            icon="🚫",
        )
    drop = quality_trouble(channel)
    if drop:
        st.warning("Quality alert: " + escape_markdown(drop), icon="📉")
    if key_status == "unknown":
        st.warning(
            "Check key state: a key request may have reached 360dialog without an answer. "
            "Ask 360dialog or test the key before generating again (a new key revokes any made by that request).",
            icon="⚠️",
        )
    if key_status == "unusable":
        st.warning("The client withdrew permission: this channel's key no longer works.", icon="⛔")


def channel_links(label: ChannelLabel, hub_url: str) -> None:
    """Where else this channel is: its client, its events, and its page in 360dialog's hub. Relative links, so
    a console served under a path prefix stays within it."""
    links = st.container(horizontal=True)
    if label.client_id:
        client = label.client_name or f"client {label.client_id}"
        links.link_button(
            f"{client} on Clients", "clients?" + urlencode({"open": label.client_id}), icon=":material/storefront:"
        )
    links.link_button("Its events", "events?" + urlencode({"channel": label.channel_id}), icon=":material/webhook:")
    links.link_button("In 360dialog's hub", hub_url, icon=":material/open_in_new:")


def timeline_table(entries: list[TimelineEntry]) -> None:
    if not entries:
        st.text("Nothing recorded for this channel yet.")
        return
    rows = [{**asdict(entry), "at": human(entry.at)} for entry in entries]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def sync_report(report: SyncReport) -> None:
    st.success(f"Sync done: {report.summary()}.")
    if report.left_running:
        st.warning(
            f"{report.left_running_count} channel(s) left running: "
            + escape_markdown(", ".join(report.left_running))
            + ". They are listed under Needs attention until they are running again.",
            icon="⚠️",
        )
    if report.truncated:
        st.caption(f"The tables below list the first {REPORT_LIMIT:,} channels of each kind; the audit has them all.")
    if report.changes:
        st.dataframe(pd.DataFrame([asdict(change) for change in report.changes]), hide_index=True)
    if report.new_channels:
        st.dataframe(pd.DataFrame({"new channel": report.new_channels}), hide_index=True)


def bulk_report(summary: BulkSummary, labels: dict[str, ChannelLabel]) -> None:
    ok, failed = summary.succeeded, summary.failed
    if ok:
        st.success(f"{plural(len(ok), 'key')} generated.")
    if failed:
        st.error(f"{plural(len(failed), 'channel')} got no key; the reason for each is below.")
        rows = [
            {"channel": labels[outcome.channel_id].text, "reason": outcome.error, "channel id": outcome.channel_id}
            for outcome in failed
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if not ok and not failed:
        st.info("No channel was eligible.")
    readiness_report(summary)


def readiness_report(summary: BulkSummary) -> None:
    """How many keys ended ready to use, and which did not, at which step."""
    prepared = [outcome for outcome in summary.outcomes if outcome.readiness]
    if not prepared:
        return
    waiting = summary.not_ready
    ready = len(prepared) - len(waiting)
    st.success(f"{plural(ready, 'key')} ready to use: checked, messaging webhook set and read back.")
    if waiting:
        st.warning(f"{plural(len(waiting), 'key')} not ready yet; the step each one stopped at is below.", icon="⚠️")
        stopped = [
            (outcome.channel_id, next(s for s in outcome.readiness if s.status not in DONE_STATUSES))
            for outcome in waiting
        ]
        rows = [
            {"channel": channel, "step": state.label, "status": state.status, "detail": state.detail}
            for channel, state in stopped
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
