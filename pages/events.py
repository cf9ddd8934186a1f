"""Events: partner webhooks as the receiver stored them, live."""

import pandas as pd
import streamlit as st

from dashboard.context import get_db
from services.events import recent_events

st.title("Events")


@st.fragment(run_every=2)
def live_events() -> None:
    rows = recent_events(get_db(), limit=200)
    if not rows:
        st.info("No webhook has arrived yet.")
        return
    frame = pd.DataFrame(rows)[["received_at", "event_type", "channel_id", "client_id", "status", "duplicate_count"]]
    st.dataframe(frame, hide_index=True, width="stretch")


live_events()
