"""Alerts: what the scheduler tells the team about and where, a test alert, what fired and what was sent."""

import pandas as pd
import streamlit as st

from dashboard.context import current_person, get_db, require_settings
from dashboard.plain_text import escape_markdown
from dashboard.widgets import refused
from services.alerts.delivery import send_test_alert
from services.alerts.destinations import Destination, destinations
from services.alerts.handling import MAX_SNOOZE_HOURS, AlertNotFiring, acknowledge, snooze
from services.alerts.ledger import OpenAlert, delivery_history, held_news, open_alerts, rule_states
from services.alerts.wording import held_line
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

try:
    states = rule_states(get_db(), alerts)
    held = held_news(get_db(), alerts)
    firing = open_alerts(get_db(), settings.public_url, held=held)
except DatabaseError as error:
    st.error(f"The console database cannot be read right now ({type(error).__name__}).")
    st.stop()

# -- what fires now, first: what needs someone ---------------------------------------------------------------
st.subheader("Firing now")
if held is not None:
    st.warning(escape_markdown(held_line(held.alerts, held.resolutions, held.reason, held.until)) + ".", icon="⏳")
if not firing:
    st.info("No alert is firing.")
else:
    critical = sum(alert.severity == "critical" for alert in firing)
    st.caption(f"{len(firing)} firing, {critical} critical (listed first).")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "severity": alert.severity,
                    "told": alert.told,
                    "rule": alert.title,
                    "about": alert.about,
                    "since (UTC)": alert.fired_at[:19].replace("T", " "),
                    "what happened": alert.detail,
                    "acknowledged": f"by {alert.acked_by} at {alert.acked_at[11:16]} UTC" if alert.acked_at else "",
                    "open": alert.link,
                }
                for alert in firing
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open")},
    )


def alert_choice(alert: OpenAlert) -> str:
    return f"#{alert.id} {alert.severity}: {alert.title}: {alert.about}"


SNOOZES = {"1 hour": 1.0, "4 hours": 4.0, "1 day": 24.0, "1 week": float(MAX_SNOOZE_HOURS)}


def handle_alerts(firing: list[OpenAlert]) -> None:
    """Acknowledge or snooze one firing alert; the answer shows here, next to the buttons."""
    st.markdown("**Acknowledge or snooze**")
    may_not = refused("handle_alert")
    by_id = {alert.id: alert for alert in firing}
    chosen = by_id[
        st.selectbox("Alert", list(by_id), format_func=lambda id_: alert_choice(by_id[id_]), key="alert_chosen")
    ]
    left, middle, right = st.columns([1, 1, 1], vertical_alignment="bottom")
    length = middle.selectbox("Snooze for", list(SNOOZES), key="alert_snooze_for")
    answer = None
    if left.button("Acknowledge", disabled=bool(may_not), help=may_not, key="alert_ack"):
        try:
            acknowledge(get_db(), chosen.id, actor=current_person())
            answer = ("success", f"Acknowledged alert #{chosen.id}: the team sees you are on it.")
        except AlertNotFiring as error:
            answer = ("info", str(error))
    if right.button("Snooze", disabled=bool(may_not), help=may_not, key="alert_snooze"):
        try:
            until = snooze(get_db(), chosen.id, SNOOZES[length], actor=current_person())
            answer = (
                "success",
                f"Snoozed alert #{chosen.id} until {until[:16].replace('T', ' ')} UTC; a worse change tells the"
                " team at once.",
            )
        except AlertNotFiring as error:
            answer = ("info", str(error))
    if answer:
        st.session_state["alerts_handled"] = answer
        st.rerun()
    handled = st.session_state.pop("alerts_handled", None)
    if handled:
        (st.success if handled[0] == "success" else st.info)(escape_markdown(handled[1]))


if firing:
    handle_alerts(firing)


# -- the rules ------------------------------------------------------------------------------------------------
st.subheader("Rules")
st.dataframe(
    pd.DataFrame(
        [
            {
                "rule": state.title,
                "severity": state.severity,
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
        volume = (
            f"at most {alerts.max_per_hour} messages an hour, then a summary of the rest; many alerts of one rule go"
            " as one message, and a critical alert goes out at once, whatever the cap and the digest"
        )
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
