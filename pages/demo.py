"""Demo controls (demo mode only): make the sandbox hub do what Meta, a client or 360dialog would do."""

import streamlit as st

from dashboard.context import current_person, get_db, get_sandbox_client, require_settings
from dashboard.demo_controls import DemoControls, hub_outbox, stuck_channel, whole_demo
from dashboard.demo_story import channel_story
from dashboard.widgets import refused_note
from services.demo.controls import DEMO_ACTION

settings = require_settings()
st.title("Demo controls")
if not settings.demo_mode:
    st.error("The demo controls exist only in demo mode, when the sandbox hub plays 360dialog.")
    st.stop()
st.caption("Each control asks the sandbox hub to act; its webhooks then reach the console through the receiver.")
db = get_db()
person = current_person()
# Demo mode acts as the demo admin; a role that may not use the controls sees each one disabled, with why.
controls = DemoControls(db, person, get_sandbox_client(), may_not=refused_note(DEMO_ACTION))

whole_demo(controls)
channel_story(controls)
stuck_channel(controls)
hub_outbox(controls)
