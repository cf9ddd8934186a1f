"""Receiver health: is the webhook receiver storing events, what has it refused; how the last Partner API
syncs went, by the scheduler or an operator; and the last key-health round."""

import streamlit as st

from dashboard.context import require_settings
from dashboard.receiver_views import key_health, stored_and_refused, sync_health

require_settings()
st.title("Receiver health")
st.caption(
    "Counted by the webhook receiver as it stores events. Accepted and duplicate count events; "
    "rejected counts requests refused before storage (bad signature or token, bad body, wrong method)."
)

stored_and_refused()
sync_health()
key_health()
