"""What the landing page shows and stores: the neutral page for a client's browser, the result for an operator,
and the redirect stored within the limits a stranger's reruns meet."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from sqlite_utils import Database

from dashboard.context import source_address
from dashboard.plain_text import escape_markdown
from services.onboarding.redirect_params import CANCELLED, COMPLETED, NOTHING_SHARED, UNREADABLE, client_outcome
from services.onboarding.redirect_store import StoredRedirect, is_stored, receive_redirect, record_drop, stored_query
from services.settings import Settings

# How many new redirects this browser session stored: Streamlit reruns the page over its websocket, where no
# proxy's rate limit applies, so the page counts them itself.
STORED_IN_SESSION = "landing_redirects_stored"
# What the query this session brought says, kept once the query is cleared from the address bar.
OUTCOME = "landing_outcome"
# Set by the "Operator view" button: this session (demo mode, or a signed-in operator) sees the result.
OPERATOR_VIEW = "landing_operator_view"

CLIENT_TITLES = {
    COMPLETED: "Onboarding complete",
    CANCELLED: "Onboarding cancelled",
    NOTHING_SHARED: "No number was shared",
    UNREADABLE: "We could not read this link",
}


def store_landing_redirect(db: Database, params: Mapping[str, list[str]], settings: Settings) -> StoredRedirect | None:
    """Store the redirect in the page's query, unless this session already stored its share of new ones (then
    it is only counted as dropped, per source). A reload of a stored redirect finds its row and costs nothing.
    None when nothing was stored."""
    limits = settings.redirect_limits
    source = source_address()
    stored_here = st.session_state.get(STORED_IN_SESSION, 0)
    already = is_stored(db, params)
    if not already and stored_here >= limits.per_session:
        record_drop(db, source, f"cap reached: {limits.per_session} new redirects from one browser session")
        return None
    stored = receive_redirect(db, params, source=source, limits=limits, direct_paid=settings.direct_paid)
    if stored.dropped:
        return None
    if not already:
        st.session_state[STORED_IN_SESSION] = stored_here + 1
    return stored


def remember_outcome(params: Mapping[str, list[str]]) -> None:
    """Read what the query says for the client's page, before the query is cleared."""
    st.session_state[OUTCOME] = client_outcome(stored_query(params))


def client_words(outcome: str, settings: Settings) -> str:
    """The partner's words for this outcome, with their name in place of `{partner}`, Markdown-escaped."""
    texts = settings.landing_texts
    words = {
        COMPLETED: texts.completed,
        CANCELLED: texts.cancelled,
        NOTHING_SHARED: texts.nothing_shared,
        UNREADABLE: texts.unreadable,
    }[outcome]
    # replace, not str.format: a brace in the partner's words must not break the page.
    return escape_markdown(words.replace("{partner}", settings.partner_display_name))


def client_landing(settings: Settings) -> None:
    """What the client's browser sees: what its own query said (completed, cancelled, nothing shared, or not
    readable), in the partner's words. Nothing the console knows or decided shows here."""
    outcome = st.session_state.get(OUTCOME, UNREADABLE)
    st.title(CLIENT_TITLES[outcome])
    st.write(client_words(outcome, settings))
    if settings.landing_continue_url:
        st.link_button(f"Continue to {settings.partner_display_name}", settings.landing_continue_url)
