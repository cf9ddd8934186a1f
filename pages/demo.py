"""Demo controls (demo mode only): make the sandbox hub do what Meta, a client or 360dialog would do."""

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard.context import current_person, get_db, get_partner_api, get_vault, require_settings
from dashboard.widgets import refused_note
from services.accounts import NotAllowed
from services.channels.projection import list_channels
from services.demo.controls import (
    ACCOUNT_ALERT_EVENTS,
    CANCELLATION_STEPS,
    CONTROL_ERRORS,
    DEMO_ACTION,
    reset_demo,
    run_control,
    send_account_alert,
    send_cancellation,
    send_key_regeneration,
    send_portfolio_limit,
    send_template_status,
    store_redirect_query,
)
from services.demo.hub_client import SandboxClient, SandboxError
from services.demo.scenario import load_scenario, scenario_in_words
from services.whatsapp import MESSAGING_LIMITS, PORTFOLIO_LIMITS, QUALITY_RATINGS, TEMPLATE_STATUSES

settings = require_settings()
st.title("Demo controls")
if not settings.demo_mode:
    st.error("The demo controls exist only in demo mode, when the sandbox hub plays 360dialog.")
    st.stop()
st.caption("Each control asks the sandbox hub to act; its webhooks then reach the console through the receiver.")
db = get_db()
person = current_person()
# Demo mode acts as the demo admin; a role that may not use the controls sees each one disabled, with why.
may_not = refused_note(DEMO_ACTION)


@st.cache_resource
def sandbox_client() -> SandboxClient:
    return SandboxClient.from_settings(require_settings())


sandbox = sandbox_client()


def control(name: str, act: Callable[[], str], message: str, channel_id: str | None = None) -> None:
    """Run the control (the service audits it as demo_<name>); after the rerun, `answer(name)` shows how it
    went right below its button."""
    try:
        detail = run_control(db, person, name, act, channel_id=channel_id)
    except (*CONTROL_ERRORS, NotAllowed) as error:
        st.session_state["demo_outcome"] = {"control": name, "error": str(error)}
    else:
        st.session_state["demo_outcome"] = {"control": name, "message": message, "detail": detail}
    st.rerun()


# The last control's outcome, shown once, next to the button that ran it rather than at the top of the page.
outcome = st.session_state.pop("demo_outcome", None) or {}


def answer(name: str) -> None:
    if outcome.get("control") != name:
        return
    if "error" in outcome:
        st.error("That did not work.", icon="🚫")
        st.text(outcome["error"])
        return
    st.success(outcome["message"], icon="✅")
    if outcome["detail"]:
        st.text(outcome["detail"])


def scenario_loaded() -> str:
    return scenario_in_words(load_scenario(db, get_partner_api(), get_vault(), sandbox, actor=person))


# -- the whole demo ---------------------------------------------------------------------------------------
left, right = st.columns(2)
with left.container(border=True):
    st.subheader("Realistic scenario")
    st.write(
        "About 40 clients and 150 channels over every stage: some with keys, some downgraded, some stuck for days, "
        "a few revoked, three numbers flagged or restricted by Meta, a rejected template, a cancelled number, a "
        "business portfolio whose limit fell, and a key its client regenerated in its hub."
    )
    st.caption("It adds to what is there: reset first for a clean demo.")
    if st.button("Load realistic scenario", type="primary", disabled=bool(may_not), help=may_not):
        with st.spinner("Seeding the hub, syncing channels and generating keys..."):
            control("load_scenario", scenario_loaded, "Scenario loaded. Its webhooks are on their way to the receiver.")
    answer("load_scenario")
with right.container(border=True):
    st.subheader("Reset the demo")
    st.write("Erases the hub's state and every row of the console's database.")
    confirmed = st.checkbox("Yes, erase the demo data", disabled=bool(may_not))
    if st.button("Reset demo", disabled=bool(may_not) or not confirmed, help=may_not):
        control(
            "reset",
            lambda: f"{reset_demo(db, sandbox, actor=person)} console rows removed",
            "Demo reset: the hub and the console start empty.",
        )
    answer("reset")

# -- one channel's story -----------------------------------------------------------------------------------
st.header("A channel's story")
channels = list_channels(db)
if not channels:
    st.info("No channel yet: load the scenario above, or onboard one below.")
else:
    labels = {
        row["id"]: " · ".join(
            (
                row["client_name"] or row["client_id"] or "client not known yet",
                row["phone_number"] or "no number",
                row["status"] or "unknown",
                row["id"],
            )
        )
        for row in channels
    }
    channel_id = st.selectbox("Channel", list(labels), format_func=labels.get)
    chosen_row = next(row for row in channels if row["id"] == channel_id)
    number = chosen_row["phone_number"]
    business = chosen_row["client_name"] or chosen_row["client_id"] or "an unknown client"
    # People recognise a business and a phone number, not an id: each control says which one it acts on.
    target = f"{business}, {number or 'no number known yet'}"
    st.markdown(f"Acting on **{business}** · {number or 'no number known yet'} · `{channel_id}`")
    quality_col, revoke_col = st.columns(2)
    alert_col, template_col = st.columns(2)
    with quality_col.container(border=True):
        st.markdown("**Quality or limit change** (Meta)")
        st.caption(f"For {target}.")
        rating = st.selectbox("Quality rating", QUALITY_RATINGS, index=1)
        limit = st.selectbox("Messaging limit", MESSAGING_LIMITS, index=1)
        if st.button("Send quality change", disabled=bool(may_not), help=may_not):

            def change_quality() -> str:
                sandbox.change_quality(channel_id, quality=rating, limit=limit)
                return f"{target}: quality {rating}, messaging limit {limit}"

            control("quality_change", change_quality, "The quality change is on its way to the receiver.", channel_id)
        answer("quality_change")
    with revoke_col.container(border=True):
        st.markdown("**Key and permission** (the client, in its hub)")
        st.caption(
            f"{business} withdraws key permission for {number or 'this number'}; the hub's redirect is stored as the "
            "landing page would. The console's key keeps working."
        )
        if st.button("Client revokes permission", disabled=bool(may_not), help=may_not):

            def revoke() -> str:
                stored = store_redirect_query(db, sandbox.revoke(channel_id), get_partner_api(), actor=person)
                return f"{target} withdrew the partner's permission (redirect #{stored.id})"

            control("revoke", revoke, "Permission withdrawn; the redirect is stored.", channel_id)
        answer("revoke")
        st.caption("Or it grants key permission again in its hub: no event; the next permission check sees it.")
        if st.button("Client grants permission in its hub", disabled=bool(may_not), help=may_not):

            def grant() -> str:
                sandbox.grant(channel_id)
                return f"{target} granted the partner's permission again in its hub"

            control("grant", grant, "Permission granted in the hub.", channel_id)
        answer("grant")
        st.caption(
            f"Or {business} generates its own key for {number or 'this number'}: every key the partner holds "
            "stops working (401), and no event says so."
        )
        if st.button("Client regenerates its own key in its hub", disabled=bool(may_not), help=may_not):
            control(
                "regenerate_key",
                lambda: send_key_regeneration(sandbox, channel_id),
                f"{target}: the client's own key replaced the partner's.",
                channel_id,
            )
        answer("regenerate_key")
    with alert_col.container(border=True):
        st.markdown("**Account violation or restriction** (Meta)")
        st.caption(
            f"The hub names the number only ({number or 'not known here yet'}), as 360dialog does; the console "
            "matches it to this channel by its digits."
        )
        for event, label in zip(
            ACCOUNT_ALERT_EVENTS, ("Send account violation", "Send account restriction"), strict=True
        ):
            if st.button(label, disabled=bool(may_not), help=may_not):
                control(
                    event,
                    lambda event=event: send_account_alert(sandbox, channel_id, event),
                    f"The {event.replace('_', ' ')} is on its way to the receiver.",
                    channel_id,
                )
            answer(event)
    with template_col.container(border=True):
        st.markdown("**Template status change** (Meta)")
        st.caption(
            f"On the WhatsApp Business Account of {business}: the event names the WABA, not a channel, and "
            "reaches every number of it."
        )
        template_status = st.selectbox("Template status", TEMPLATE_STATUSES)
        if st.button("Send template status change", disabled=bool(may_not), help=may_not):
            control(
                "template_status",
                lambda: send_template_status(sandbox, channel_id, template_status),
                "The template status change is on its way to the receiver.",
                channel_id,
            )
        answer("template_status")
    cancel_col, portfolio_col = st.columns(2)
    with cancel_col.container(border=True):
        st.markdown("**Cancellation** (the client, then 360dialog)")
        st.caption(
            f"For {target}. A processed cancellation sets terminated_at: the channel leaves the funnel and takes "
            "no key."
        )
        step = st.selectbox("Cancellation step", list(CANCELLATION_STEPS), format_func=CANCELLATION_STEPS.get)
        if st.button("Send cancellation step", disabled=bool(may_not), help=may_not):
            control(
                "cancellation",
                lambda: send_cancellation(sandbox, channel_id, step),
                "The cancellation step is on its way to the receiver.",
                channel_id,
            )
        answer("cancellation")
    with portfolio_col.container(border=True):
        st.markdown("**Business portfolio limit** (Meta)")
        client_id = chosen_row["client_id"]
        portfolio_numbers = [row["phone_number"] or row["id"] for row in channels if row["client_id"] == client_id]
        st.caption(
            f"Meta sets the limit per business portfolio: every number of {business} "
            f"({', '.join(portfolio_numbers)}) takes it, and a drop is one alert naming them all."
        )
        portfolio_limit = st.selectbox("Portfolio limit", PORTFOLIO_LIMITS + MESSAGING_LIMITS, index=1)
        if st.button("Send portfolio limit", disabled=bool(may_not or not client_id), help=may_not):
            control(
                "portfolio_limit",
                lambda: send_portfolio_limit(sandbox, client_id, portfolio_limit),
                "One quality event per number of the portfolio is on its way to the receiver.",
                channel_id,
            )
        answer("portfolio_limit")

# -- a channel that never runs ----------------------------------------------------------------------------------
with st.container(border=True):
    st.subheader("A channel that never reaches running")
    st.caption("Onboards a client whose number stays pending: no running webhook is ever scheduled.")
    name_col, number_col = st.columns(2)
    business = name_col.text_input("Business name", value="Stuck Studio", max_chars=100)
    number = number_col.text_input("Phone number", value="+49 151 4040404", max_chars=24)
    if st.button("Onboard a stuck channel", disabled=bool(may_not), help=may_not):

        def onboard_stuck() -> str:
            onboarded = sandbox.onboard(business, [number], never_running=True)
            store_redirect_query(db, onboarded["redirect_query"], get_partner_api(), actor=person)
            return ", ".join(onboarded["channel_ids"])

        control("onboard_stuck", onboard_stuck, "Onboarded; the channel will stay pending.")
    answer("onboard_stuck")

# -- the hub's outbox and its switches -------------------------------------------------------------------------
st.header("Webhooks the hub sent")
try:
    switches = sandbox.switches()
    outbox = sandbox.outbox(limit=300)
except SandboxError as error:
    st.error("The sandbox hub cannot be reached.")
    st.text(str(error))
    st.stop()

twice_col, order_col, read_col = st.columns(3)
send_twice = twice_col.toggle(
    "Send every webhook twice", value=switches["send_twice"], disabled=bool(may_not), help=may_not
)
out_of_order = order_col.toggle(
    "Send webhooks out of order", value=switches["out_of_order"], disabled=bool(may_not), help=may_not
)
read_missing = read_col.toggle(
    "Webhook read answers 404",
    value=switches["webhook_read_missing"],
    disabled=bool(may_not),
    help=may_not or "GET /v1/configs/webhook is not in 360dialog's reference: the read-back step says not verifiable",
)
chosen_switches = {"send_twice": send_twice, "out_of_order": out_of_order, "webhook_read_missing": read_missing}
if chosen_switches != {name: switches[name] for name in chosen_switches}:

    def save_switches() -> str:
        sandbox.set_switches(**chosen_switches)
        return ", ".join(
            f"{name.replace('_', ' ')}: {'on' if value else 'off'}" for name, value in chosen_switches.items()
        )

    control("switches", save_switches, "Delivery switches saved.")
answer("switches")

if not outbox:
    st.info("The hub has not sent any webhook yet.")
else:
    frame = pd.DataFrame(outbox)[["id", "event", "channel_id", "created_at", "attempts", "delivered_at", "last_error"]]
    st.dataframe(frame, hide_index=True, width="stretch", height=280)
    events = {row["id"]: f"#{row['id']} {row['event']} {row['channel_id'] or ''}" for row in outbox}
    chosen = st.selectbox("Stored event", list(events), format_func=events.get)
    if st.button("Send again", disabled=bool(may_not), help=may_not):
        control(
            "resend",
            lambda: f"#{chosen} as #{sandbox.resend(chosen)}",
            "Queued again, byte for byte: the receiver counts it as a duplicate.",
        )
    answer("resend")
