"""Alerts: what the scheduler tells the team about and where, a test alert, what fired and what was sent."""

import pandas as pd
import streamlit as st

from dashboard.context import current_person, get_db, require_settings
from dashboard.plain_text import escape_markdown
from dashboard.widgets import refused
from services.alerts.delivery import send_test_alert
from services.alerts.destinations import Destination, destinations
from services.alerts.ledger import delivery_history, open_alerts, rule_states
from services.demo.hub_client import SandboxClient, SandboxError
from services.scheduler.status import scheduler_status
from services.store import DatabaseError

settings = require_settings()
alerts = settings.alerts
st.title("Alerts")
st.caption(
    "The scheduler reads the console's database every CONSOLE_ALERT_CHECK_SECONDS and tells the team when a "
    "rule below fires and when it resolves, through apprise (Slack, Teams, e-mail, any webhook)."
)


@st.cache_resource
def alert_destinations() -> list[Destination]:
    return destinations(require_settings().alerts.urls)


found = alert_destinations()

# -- where alerts go ----------------------------------------------------------------------------------------
st.subheader("Destinations")
if not found:
    st.info(
        "No destination, so no alerts: set CONSOLE_ALERT_URLS to one or more apprise URLs "
        "(for example slack://..., mailto://..., jsons://...) and restart."
    )
else:
    # Scheme and host only: the rest of a URL holds its secrets.
    for destination in found:
        if destination.usable:
            st.text(f"✅ {destination.label}")
        else:
            st.text(f"❌ {destination.label}: the scheduler will not start until this URL is fixed")
    try:
        scheduler = scheduler_status(get_db())
    except DatabaseError:
        scheduler = None
    if scheduler is None or not scheduler.running:
        st.warning("The scheduler is not running: no rule is checked and nothing is sent until it runs.")
    else:
        volume = f"at most {alerts.max_per_hour} messages an hour, then a summary of the rest"
        digest = f"one digest every {alerts.digest_minutes:g} min" if alerts.digest_minutes > 0 else "each on its own"
        st.caption(f"Checked every {alerts.check_seconds:g} s; alerts go {digest}, {volume}.")

outcome = st.session_state.pop("alerts_outcome", None)
if outcome:
    for line in outcome:
        (st.success if line["sent"] else st.error)(escape_markdown(line["text"]))
may_not_test = refused("send_test_alert")
if st.button("Send a test alert", type="primary", disabled=bool(may_not_test) or not found, help=may_not_test):
    results = send_test_alert(get_db(), found, alerts, actor=current_person(), public_url=settings.public_url)
    st.session_state["alerts_outcome"] = [
        {
            "sent": result.sent,
            "text": f"Test alert sent to {result.destination}."
            if result.sent
            else f"Test alert to {result.destination} failed: {result.error}"
            + (f" It is tried again at {result.next_attempt_at[:19]} UTC." if result.next_attempt_at else ""),
        }
        for result in results
    ]
    st.rerun()

# -- the rules ------------------------------------------------------------------------------------------------
st.subheader("Rules")
try:
    states = rule_states(get_db(), alerts)
    firing = open_alerts(get_db(), settings.public_url)
except DatabaseError as error:
    st.error(f"The console database cannot be read right now ({type(error).__name__}).")
    st.stop()
st.dataframe(
    pd.DataFrame(
        [
            {
                "rule": state.title,
                "on": state.on,
                "threshold": state.threshold,
                "firing now": state.firing,
                "last fired (UTC)": (state.last_fired_at or "")[:19].replace("T", " "),
                "settings": ", ".join(state.settings),
            }
            for state in states
        ]
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Firing now")
if not firing:
    st.info("No alert is firing.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "since (UTC)": alert.fired_at[:19].replace("T", " "),
                    "rule": alert.title,
                    "about": alert.about,
                    "what happened": alert.detail,
                    "told": "yes" if alert.sent else "waiting (digest or cap)",
                    "open": alert.link,
                }
                for alert in firing
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open")},
    )


@st.fragment(run_every=5)
def history() -> None:
    st.subheader("Delivery history")
    try:
        rows = delivery_history(get_db())
    except DatabaseError:
        return
    if not rows:
        st.info("Nothing sent yet.")
    else:
        frame = pd.DataFrame(rows)
        frame["created_at"] = frame["created_at"].str.slice(0, 19).str.replace("T", " ")
        frame["next_attempt_at"] = frame["next_attempt_at"].str.slice(0, 19).str.replace("T", " ")
        columns = {
            "created_at": "composed (UTC)",
            "kind": "kind",
            "title": "message",
            "destination": "destination",
            "state": "state",
            "attempts": "tries",
            "last_error": "last error",
            "next_attempt_at": "next try (UTC)",
        }
        st.dataframe(frame[list(columns)].rename(columns=columns), hide_index=True, width="stretch")
    if settings.demo_mode:
        demo_inbox()


def demo_inbox() -> None:
    st.subheader("Demo inbox")
    st.caption("In demo mode alerts go to the sandbox hub's inbox (apprise's JSON target), shown here.")
    try:
        client = SandboxClient.from_settings(settings)
        try:
            received = client.inbox(limit=30)
        finally:
            client.close()
    except SandboxError as error:
        st.warning(f"The demo inbox cannot be read: {error}")
        return
    if not received:
        st.info("The inbox is empty.")
        return
    for message in received:
        with st.container(border=True):
            st.text(f"{message['received_at'][:19].replace('T', ' ')} UTC · {message['type']}")
            st.markdown(f"**{escape_markdown(message['title'])}**")
            st.text(message["message"])


history()
