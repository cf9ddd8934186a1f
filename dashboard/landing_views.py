"""What the landing page shows and stores: the neutral page for a client's browser, the result for an operator,
and the redirect stored within the limits a stranger's reruns meet."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from sqlite_utils import Database

from dashboard.context import source_address
from dashboard.plain_text import escape_markdown
from services.onboarding.redirects import StoredRedirect, is_stored, receive_redirect, record_drop
from services.settings import Settings

# How many new redirects this browser session stored: Streamlit reruns the page over its websocket, where no
# proxy's rate limit applies, so the page counts them itself.
STORED_IN_SESSION = "landing_redirects_stored"


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


def neutral_landing(settings: Settings) -> None:
    """All a visitor who has not signed in ever sees: the same words whatever the redirect held."""
    st.title("Onboarding complete")
    st.write(
        f"Thank you. Your WhatsApp Business number is on its way to {escape_markdown(settings.partner_display_name)}, "
        "who will be in touch about the next steps. You can close this page."
    )
    if settings.landing_continue_url:
        st.link_button(f"Continue to {settings.partner_display_name}", settings.landing_continue_url)
