"""The Demo controls page's pieces: each control run and audited with its outcome shown under its button, the
whole demo (load the scenario, reset), a channel that never runs, and the hub's outbox with its switches. One
channel's story has a module of its own (dashboard/demo_story.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from sqlite_utils import Database

from dashboard.context import SandboxError, get_partner_api, get_vault
from services.accounts import NotAllowed, Person
from services.demo.controls import CONTROL_ERRORS, reset_demo, run_control, store_redirect_query
from services.demo.hub_client import SandboxClient
from services.demo.scenario import load_scenario, scenario_in_words

OUTCOME = "demo_outcome"


class DemoControls:
    """The controls of one page run: who acts, on which database and hub, whether their role may (`may_not` is
    the reason it may not), and the last control's outcome, shown once next to the button that ran it rather
    than at the top of the page."""

    def __init__(self, db: Database, person: Person, sandbox: SandboxClient, may_not: str | None) -> None:
        self.db = db
        self.person = person
        self.sandbox = sandbox
        self.may_not = may_not
        self._outcome: dict[str, Any] = st.session_state.pop(OUTCOME, None) or {}

    def run(self, name: str, act: Callable[[], str], message: str, channel_id: str | None = None) -> None:
        """Run the control (the service audits it as demo_<name>); after the rerun, `answer(name)` shows how it
        went right below its button."""
        try:
            detail = run_control(self.db, self.person, name, act, channel_id=channel_id)
        except (*CONTROL_ERRORS, NotAllowed) as error:
            st.session_state[OUTCOME] = {"control": name, "error": str(error)}
        else:
            st.session_state[OUTCOME] = {"control": name, "message": message, "detail": detail}
        st.rerun()

    def answer(self, name: str) -> None:
        outcome = self._outcome
        if outcome.get("control") != name:
            return
        if "error" in outcome:
            st.error("That did not work.", icon="🚫")
            st.text(outcome["error"])
            return
        st.success(outcome["message"], icon="✅")
        if outcome["detail"]:
            st.text(outcome["detail"])

    def button(self, label: str, **options: Any) -> bool:
        """A control's button, disabled with the reason for a role that may not use the controls."""
        also_disabled = bool(options.pop("disabled", False))
        return st.button(label, disabled=bool(self.may_not) or also_disabled, help=self.may_not, **options)


def whole_demo(controls: DemoControls) -> None:
    """Load the realistic scenario, or reset the demo, side by side."""
    left, right = st.columns(2)
    with left.container(border=True):
        st.subheader("Realistic scenario")
        st.write(
            "About 40 clients and 150 channels over every stage: some with keys, some downgraded, some stuck for "
            "days, a few revoked, three numbers flagged or restricted by Meta, a rejected template, a cancelled "
            "number, a business portfolio whose limit fell, and a key its client regenerated in its hub."
        )
        st.caption("It adds to what is there: reset first for a clean demo.")
        if controls.button("Load realistic scenario", type="primary"):
            with st.spinner("Seeding the hub, syncing channels and generating keys..."):
                controls.run(
                    "load_scenario",
                    lambda: scenario_in_words(
                        load_scenario(
                            controls.db, get_partner_api(), get_vault(), controls.sandbox, actor=controls.person
                        )
                    ),
                    "Scenario loaded. Its webhooks are on their way to the receiver.",
                )
        controls.answer("load_scenario")
    with right.container(border=True):
        st.subheader("Reset the demo")
        st.write("Erases the hub's state and every row of the console's database.")
        confirmed = st.checkbox("Yes, erase the demo data", disabled=bool(controls.may_not))
        if controls.button("Reset demo", disabled=not confirmed):
            controls.run(
                "reset",
                lambda: f"{reset_demo(controls.db, controls.sandbox, actor=controls.person)} console rows removed",
                "Demo reset: the hub and the console start empty.",
            )
        controls.answer("reset")


def stuck_channel(controls: DemoControls) -> None:
    """Onboard a client whose number never reaches running."""
    with st.container(border=True):
        st.subheader("A channel that never reaches running")
        st.caption("Onboards a client whose number stays pending: no running webhook is ever scheduled.")
        name_col, number_col = st.columns(2)
        business = name_col.text_input("Business name", value="Stuck Studio", max_chars=100)
        number = number_col.text_input("Phone number", value="+49 151 4040404", max_chars=24)
        if controls.button("Onboard a stuck channel"):

            def onboard_stuck() -> str:
                onboarded = controls.sandbox.onboard(business, [number], never_running=True)
                store_redirect_query(controls.db, onboarded["redirect_query"], get_partner_api(), actor=controls.person)
                return ", ".join(onboarded["channel_ids"])

            controls.run("onboard_stuck", onboard_stuck, "Onboarded; the channel will stay pending.")
        controls.answer("onboard_stuck")


def hub_outbox(controls: DemoControls) -> None:
    """The webhooks the hub sent, its delivery switches, and a stored webhook sent again. Stops the page when the
    hub cannot be reached."""
    st.header("Webhooks the hub sent")
    sandbox = controls.sandbox
    try:
        switches = sandbox.switches()
        outbox = sandbox.outbox(limit=300)
    except SandboxError as error:
        st.error("The sandbox hub cannot be reached.")
        st.text(str(error))
        st.stop()
    delivery_switches(controls, switches)
    if not outbox:
        st.info("The hub has not sent any webhook yet.")
        return
    frame = pd.DataFrame(outbox)[["id", "event", "channel_id", "created_at", "attempts", "delivered_at", "last_error"]]
    st.dataframe(frame, hide_index=True, width="stretch", height=280)
    events = {row["id"]: f"#{row['id']} {row['event']} {row['channel_id'] or ''}" for row in outbox}
    chosen = st.selectbox("Stored event", list(events), format_func=events.get)
    if controls.button("Send again"):
        controls.run(
            "resend",
            lambda: f"#{chosen} as #{sandbox.resend(chosen)}",
            "Queued again, byte for byte: the receiver counts it as a duplicate.",
        )
    controls.answer("resend")


def delivery_switches(controls: DemoControls, switches: dict[str, bool]) -> None:
    may_not = controls.may_not
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
        help=may_not
        or "GET /v1/configs/webhook is not in 360dialog's reference: the read-back step says not verifiable",
    )
    chosen = {"send_twice": send_twice, "out_of_order": out_of_order, "webhook_read_missing": read_missing}
    if chosen != {name: switches[name] for name in chosen}:

        def save_switches() -> str:
            controls.sandbox.set_switches(**chosen)
            return ", ".join(f"{name.replace('_', ' ')}: {'on' if value else 'off'}" for name, value in chosen.items())

        controls.run("switches", save_switches, "Delivery switches saved.")
    controls.answer("switches")
