"""Small Streamlit pieces the events and channels pages share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import context
from dashboard.plain_text import escape_markdown
from services.accounts import refusal
from services.partner_api import PartnerApiError, operator_message

TIME_RANGES = {
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
}
STATUS_BADGES = {
    "running": "🟢 running",
    "ready": "🔵 ready",
    "submitted": "🟡 submitted",
    "pending": "⚪ pending",
    "created": "⚪ created",
}
# The Channels and Clients pages' search (services.events.console_search); the Events page adds its payloads' words.
SEARCH_HELP = (
    "A number in any spelling (+34 600 111 222, 0034 600-111-222, 34600111222, or national: 600111222), a "
    "business or display name (accents and case ignored; each word by its start: 'cafe ol' finds Café Olé), "
    "or part of an id."
)
KEY_BADGES = {
    "none": "no key",
    "active": "🔑 active",
    "stopped": "❌ stopped working",
    "pending": "⏳ pending",
    "unknown": "⚠️ check key state",
    "revoked": "revoked",
    "unusable": "⛔ unusable",
}


def refused(action: str) -> str | None:
    """Why the signed-in person's role may not do `action`, fit to show beside its disabled control
    (`disabled=bool(reason), help=reason`); None when they may. The service function checks again."""
    return refusal(context.current_person(), action)


def refused_note(action: str) -> str | None:
    """As `refused`, and says so in a caption where a whole section is unavailable to the person's role."""
    reason = refused(action)
    if reason is not None:
        st.caption(f"🔒 {escape_markdown(reason)}.")
    return reason


def since_for(label: str) -> str | None:
    delta = TIME_RANGES.get(label)
    if delta is None:
        return None
    return (datetime.now(UTC) - delta).isoformat(timespec="microseconds")


def status_badge(status: str | None) -> str:
    return STATUS_BADGES.get(status or "", status or "unknown")


def key_badge(status: str) -> str:
    return KEY_BADGES.get(status, status)


def show_partner_error(error: PartnerApiError, *, where: st.delta_generator.DeltaGenerator | None = None) -> None:
    (where or st).error(escape_markdown(operator_message(error)), icon="🚫")


def capped(count: int, cap: int) -> str:
    return f"{cap:,}+" if count >= cap else f"{count:,}"


def plural(count: int, noun: str) -> str:
    """'1 key', '3 keys', '1,200 channels'."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def pager(total: int, page_size: int, *, cap: int, key: str = "page") -> tuple[int, int]:
    """Streamlit's pager when there is more than one page; (page, pages). A filter that narrows the list under
    the current page moves it to the last page there is."""
    pages = max(1, -(-min(total, cap) // page_size))
    if st.session_state.get(key, 1) > pages:
        st.session_state[key] = pages
    page = st.pagination(pages, key=key) if pages > 1 else 1
    return min(page, pages), pages
