"""Alerts: what the scheduler tells the team about and where, a test alert, what fired and what was sent."""

import streamlit as st

from dashboard.alert_views import (
    alert_destinations,
    destinations_section,
    firing_now,
    handle_alerts,
    history,
    rules_table,
    send_test_alert_button,
)
from dashboard.context import DatabaseError, get_db, require_settings
from services.alerts.ledger import held_news, open_alerts, rule_states

settings = require_settings()
st.title("Alerts")
st.caption(
    "The scheduler reads the console's database every CONSOLE_ALERT_CHECK_SECONDS and tells the team when a "
    "rule below fires and when it resolves, through apprise (Slack, Teams, e-mail, any webhook)."
)
found = alert_destinations()

try:
    states = rule_states(get_db(), settings.alerts)
    held = held_news(get_db(), settings.alerts)
    firing = open_alerts(get_db(), settings.public_url, held=held)
except DatabaseError as error:
    st.error(f"The console database cannot be read right now ({type(error).__name__}).")
    st.stop()

firing_now(firing, held)
handle_alerts(firing)
rules_table(states)
destinations_section(found)
send_test_alert_button(found)
history()
