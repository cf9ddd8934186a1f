"""The Alerts page's pieces: the firing alerts and their handling (acknowledge, snooze), the rules, where alerts
go and the test button, what was sent, and the demo's inbox."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.context import DatabaseError, SandboxError, get_db, get_sandbox_client, require_settings
from dashboard.plain_text import escape_markdown
from dashboard.widgets import refused
from services.alerts.delivery import send_test_alert
from services.alerts.destinations import Destination, destinations
from services.alerts.handling import MAX_SNOOZE_HOURS, AlertNotFiring, acknowledge, snooze
from services.alerts.ledger import Held, OpenAlert, RuleState, delivery_history
from services.alerts.wording import held_line
from services.scheduler.status import scheduler_status
from services.times import utc_text

SNOOZES = {"1 hour": 1.0, "4 hours": 4.0, "1 day": 24.0, "1 week": float(MAX_SNOOZE_HOURS)}
HISTORY_COLUMNS = {
    "created_at": "composed (UTC)",
    "kind": "kind",
    "title": "message",
    "destination": "destination",
    "state": "state",
    "attempts": "tries",
    "last_error": "last error",
    "next_attempt_at": "next try (UTC)",
}


@st.cache_resource
def alert_destinations() -> list[Destination]:
    return destinations(require_settings().alerts.urls)


def firing_now(firing: list[OpenAlert], held: Held | None) -> None:
    """What fires now, first: what needs someone; and what the cap or the digest holds back."""
    st.subheader("Firing now")
    if held is not None:
        line = held_line(held.alerts, held.resolutions, held.reason, held.until)
        st.warning(escape_markdown(line) + ".", icon="⏳")
    if not firing:
        st.info("No alert is firing.")
        return
    critical = sum(alert.severity == "critical" for alert in firing)
    st.caption(f"{len(firing)} firing, {critical} critical (listed first).")
    st.dataframe(
        firing_frame(firing),
        hide_index=True,
        width="stretch",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open")},
    )


def firing_frame(firing: list[OpenAlert]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "severity": alert.severity,
                "told": alert.told,
                "rule": alert.title,
                "about": alert.about,
                "since (UTC)": utc_text(alert.fired_at),
                "what happened": alert.detail,
                "acknowledged": f"by {alert.acked_by} at {utc_text(alert.acked_at, to='clock')} UTC"
                if alert.acked_at
                else "",
                "open": alert.link,
            }
            for alert in firing
        ]
    )


def alert_choice(alert: OpenAlert) -> str:
    return f"#{alert.id} {alert.severity}: {alert.title}: {alert.about}"


def handle_alerts(firing: list[OpenAlert]) -> None:
    """Acknowledge or snooze one firing alert; the answer shows here, next to the buttons."""
    if not firing:
        return
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
            acknowledge(get_db(), chosen.id, actor=context.current_person())
            answer = ("success", f"Acknowledged alert #{chosen.id}: the team sees you are on it.")
        except AlertNotFiring as error:
            answer = ("info", str(error))
    if right.button("Snooze", disabled=bool(may_not), help=may_not, key="alert_snooze"):
        try:
            until = snooze(get_db(), chosen.id, SNOOZES[length], actor=context.current_person())
            answer = (
                "success",
                f"Snoozed alert #{chosen.id} until {utc_text(until, to='minute')} UTC; a worse change tells the"
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


def rules_table(states: list[RuleState]) -> None:
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
                    "last fired (UTC)": utc_text(state.last_fired_at),
                    "settings": ", ".join(state.settings),
                }
                for state in states
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def destinations_section(found: list[Destination]) -> None:
    """Where alerts go (scheme and host only: the rest of a URL holds its secrets), and whether the scheduler
    that sends them runs."""
    st.subheader("Destinations")
    if not found:
        st.info(
            "No destination, so no alerts: set CONSOLE_ALERT_URLS to one or more apprise URLs "
            "(for example slack://..., mailto://..., jsons://...) and restart."
        )
        return
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
        return
    alerts = require_settings().alerts
    volume = (
        f"at most {alerts.max_per_hour} messages an hour, then a summary of the rest; many alerts of one rule go"
        " as one message, and a critical alert goes out at once, whatever the cap and the digest"
    )
    digest = f"one digest every {alerts.digest_minutes:g} min" if alerts.digest_minutes > 0 else "each on its own"
    st.caption(f"Checked every {alerts.check_seconds:g} s; alerts go {digest}, {volume}.")


def send_test_alert_button(found: list[Destination]) -> None:
    """ "Send a test alert" to every destination; after the rerun, each destination's outcome above it."""
    outcome = st.session_state.pop("alerts_outcome", None)
    if outcome:
        for line in outcome:
            (st.success if line["sent"] else st.error)(escape_markdown(line["text"]))
    may_not_test = refused("send_test_alert")
    if not st.button("Send a test alert", type="primary", disabled=bool(may_not_test) or not found, help=may_not_test):
        return
    settings = require_settings()
    results = send_test_alert(
        get_db(), found, settings.alerts, actor=context.current_person(), public_url=settings.public_url
    )
    st.session_state["alerts_outcome"] = [
        {
            "sent": result.sent,
            "text": f"Test alert sent to {result.destination}."
            if result.sent
            else f"Test alert to {result.destination} failed: {result.error}"
            + (f" It is tried again at {utc_text(result.next_attempt_at)} UTC." if result.next_attempt_at else ""),
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
        for column in ("created_at", "next_attempt_at"):
            frame[column] = [utc_text(moment) if moment else None for moment in frame[column]]
        st.dataframe(frame[list(HISTORY_COLUMNS)].rename(columns=HISTORY_COLUMNS), hide_index=True, width="stretch")
    if require_settings().demo_mode:
        demo_inbox()


def demo_inbox() -> None:
    st.subheader("Demo inbox")
    st.caption("In demo mode alerts go to the sandbox hub's inbox (apprise's JSON target), shown here.")
    try:
        received = get_sandbox_client().inbox(limit=30)
    except SandboxError as error:
        st.warning(f"The demo inbox cannot be read: {error}")
        return
    if not received:
        st.info("The inbox is empty.")
        return
    for message in received:
        with st.container(border=True):
            st.text(f"{utc_text(message['received_at'])} UTC · {message['type']}")
            st.markdown(f"**{escape_markdown(message['title'])}**")
            st.text(message["message"])
