"""What the landing page shows: the neutral page for a client's browser, the result for an operator."""

from __future__ import annotations

import streamlit as st

from dashboard.plain_text import escape_markdown
from services.settings import Settings


def neutral_landing(settings: Settings) -> None:
    """All a visitor who has not signed in ever sees: the same words whatever the redirect held."""
    st.title("Onboarding complete")
    st.write(
        f"Thank you. Your WhatsApp Business number is on its way to {escape_markdown(settings.partner_display_name)}, "
        "who will be in touch about the next steps. You can close this page."
    )
    if settings.landing_continue_url:
        st.link_button(f"Continue to {settings.partner_display_name}", settings.landing_continue_url)
