"""Channels and keys: the work queue, every channel, and one channel at a time in its own view with its key."""

import streamlit as st

from dashboard.bulk_keys_dialog import bulk_keys_button
from dashboard.channel_actions import keys_ready_button, sync_all_button
from dashboard.channel_workbench import REFRESH_SECONDS, channel_filters, csv_export, opened_channel, workbench
from dashboard.context import get_db, require_settings
from dashboard.key_views import leave_guard

require_settings()  # a wrong setting stops the page here, named
st.title("Channels and keys")
get_db()  # opening it recovers the key attempts a console killed mid-generation left pending
leave_guard()

# Buttons as wide as their labels, wrapping onto a second line on a narrow screen rather than cutting them.
actions = st.container(horizontal=True)
sync_all_button(actions)
bulk_keys_button(actions)
keys_ready_button(actions)

filters = channel_filters()
actions.download_button("Download this list (CSV)", data=csv_export(filters), file_name="channels.csv", mime="text/csv")
live = st.toggle("Live", value=True, key="channels_live", help=f"Refresh every {REFRESH_SECONDS} s; off to pause")

workbench(filters, live=live)
opened_channel(filters)
