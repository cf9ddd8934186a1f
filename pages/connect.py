"""Connect: build an IO link for a client when asked, hand it out, and see what became of it.

Loading the page makes no link: "New link" or the form does. Once the client is back through the current link,
its hand-out gives way to the result (the client, its numbers, each opening in Channels and keys). In live mode
links go to the hub the settings name (D360_HUB_URL, else D360_HUB_ENV); demo mode offers every hub. A link from
the history can be reopened, copied again and closed."""

import streamlit as st

from dashboard.connect_form import link_form, live_destination_caption
from dashboard.connect_link import current_link, history
from dashboard.context import current_person, get_db, require_settings
from dashboard.plain_text import escape_markdown
from dashboard.widgets import refused_note

settings = require_settings()
get_db()

st.title("Connect a WhatsApp number")
st.caption(
    f"Partner id: `{settings.partner_id}` · each link gets its own state, bound to you "
    f"({escape_markdown(current_person().id)})."
)
live_destination_caption()
# Viewers see the links handed out, never make one: a link carries the partner's IO Signature.
refused_note("hand_out_link")

link_form()
if "connect_error" in st.session_state:
    st.error("The link cannot be built: " + escape_markdown(st.session_state["connect_error"]))

current_link()
history()
