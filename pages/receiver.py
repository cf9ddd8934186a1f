"""Receiver health: is the webhook receiver storing events, and what has it refused."""

import pandas as pd
import streamlit as st

from dashboard.context import get_db
from services.receiver.stats import receiver_health
from services.store import DatabaseError

st.title("Receiver health")
st.caption(
    "Counted by the webhook receiver as it stores events. Accepted and duplicate count events; "
    "rejected counts requests refused before storage (bad signature or token, bad body, wrong method)."
)


@st.fragment(run_every=5)
def health() -> None:
    try:
        current = receiver_health(get_db())
    except DatabaseError as error:
        st.error(f"The console database cannot be read right now ({type(error).__name__}); retrying in 5 s.")
        return
    last, accepted, duplicate, rejected = st.columns(4)
    last.metric("Last event stored (UTC)", current.last_event_at or "none yet")
    accepted.metric("Accepted events", current.accepted)
    duplicate.metric("Duplicate events", current.duplicate)
    rejected.metric("Rejected requests", current.rejected)
    if current.last_signature:
        st.caption(f"Signature of the newest event listed: {current.last_signature}.")
    if current.waiting_to_be_listed:
        # Normal for a moment during a burst; a number that stays means the receiver cannot index them.
        st.info(
            f"{current.waiting_to_be_listed} stored events are not yet listed on the Events page. "
            "The receiver lists them as soon as deliveries pause; if this number stays, see the receiver's log."
        )

    st.subheader("Recent rejections")
    if not current.recent_rejections:
        st.info("No request has been refused.")
        return
    frame = pd.DataFrame(current.recent_rejections)[["at", "source", "status", "reason"]]
    st.dataframe(frame, hide_index=True, width="stretch")


health()
