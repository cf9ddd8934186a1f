"""The Demo controls page's "A channel's story": one channel chosen, and what Meta, its client or 360dialog can
do to it through the sandbox hub (quality, permission and key, account alerts, templates, cancellation, the
business portfolio's limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.context import get_partner_api
from dashboard.demo_controls import DemoControls
from services.demo.controls import (
    ACCOUNT_ALERT_EVENTS,
    CANCELLATION_STEPS,
    client_numbers,
    recent_channels,
    send_account_alert,
    send_cancellation,
    send_key_regeneration,
    send_portfolio_limit,
    send_template_status,
    store_redirect_query,
)
from services.phone_numbers import spelled_out
from services.whatsapp import MESSAGING_LIMITS, PORTFOLIO_LIMITS, QUALITY_RATINGS, TEMPLATE_STATUSES


@dataclass(frozen=True)
class Story:
    """The channel the controls act on, named as people recognise it: a business and a phone number."""

    channel_id: str
    row: dict[str, Any]

    @property
    def number(self) -> str | None:
        return spelled_out(self.row["phone_number"])

    @property
    def business(self) -> str:
        return self.row["client_name"] or self.row["client_id"] or "an unknown client"

    @property
    def target(self) -> str:
        return f"{self.business}, {self.number or 'no number known yet'}"


def _choice_label(row: dict[str, Any]) -> str:
    return " · ".join(
        (
            row["client_name"] or row["client_id"] or "client not known yet",
            spelled_out(row["phone_number"]) or "no number",
            row["status"] or "unknown",
            row["id"],
        )
    )


def channel_story(controls: DemoControls) -> None:
    st.header("A channel's story")
    channels = recent_channels(controls.db)
    if not channels:
        st.info("No channel yet: load the scenario above, or onboard one below.")
        return
    labels = {row["id"]: _choice_label(row) for row in channels}
    channel_id = st.selectbox("Channel", list(labels), format_func=labels.get)
    story = Story(channel_id, next(row for row in channels if row["id"] == channel_id))
    # People recognise a business and a phone number, not an id: each control says which one it acts on.
    st.markdown(f"Acting on **{story.business}** · {story.number or 'no number known yet'} · `{channel_id}`")
    quality_col, revoke_col = st.columns(2)
    alert_col, template_col = st.columns(2)
    with quality_col.container(border=True):
        quality_change(controls, story)
    with revoke_col.container(border=True):
        key_and_permission(controls, story)
    with alert_col.container(border=True):
        account_alerts(controls, story)
    with template_col.container(border=True):
        template_status(controls, story)
    cancel_col, portfolio_col = st.columns(2)
    with cancel_col.container(border=True):
        cancellation(controls, story)
    with portfolio_col.container(border=True):
        portfolio_limit(controls, story)


def quality_change(controls: DemoControls, story: Story) -> None:
    st.markdown("**Quality or limit change** (Meta)")
    st.caption(f"For {story.target}.")
    rating = st.selectbox("Quality rating", QUALITY_RATINGS, index=1)
    limit = st.selectbox("Messaging limit", MESSAGING_LIMITS, index=1)
    if controls.button("Send quality change"):

        def change_quality() -> str:
            controls.sandbox.change_quality(story.channel_id, quality=rating, limit=limit)
            return f"{story.target}: quality {rating}, messaging limit {limit}"

        controls.run(
            "quality_change", change_quality, "The quality change is on its way to the receiver.", story.channel_id
        )
    controls.answer("quality_change")


def key_and_permission(controls: DemoControls, story: Story) -> None:
    sandbox, channel_id, number = controls.sandbox, story.channel_id, story.number
    st.markdown("**Key and permission** (the client, in its hub)")
    st.caption(
        f"{story.business} withdraws key permission for {number or 'this number'}; the hub's redirect is stored as "
        "the landing page would. The console's key keeps working."
    )
    if controls.button("Client revokes permission"):

        def revoke() -> str:
            query = sandbox.revoke(channel_id)
            stored = store_redirect_query(controls.db, query, get_partner_api(), actor=controls.person)
            return f"{story.target} withdrew the partner's permission (redirect #{stored.id})"

        controls.run("revoke", revoke, "Permission withdrawn; the redirect is stored.", channel_id)
    controls.answer("revoke")
    st.caption("Or it grants key permission again in its hub: no event; the next permission check sees it.")
    if controls.button("Client grants permission in its hub"):

        def grant() -> str:
            sandbox.grant(channel_id)
            return f"{story.target} granted the partner's permission again in its hub"

        controls.run("grant", grant, "Permission granted in the hub.", channel_id)
    controls.answer("grant")
    st.caption(
        f"Or {story.business} generates its own key for {number or 'this number'}: every key the partner holds "
        "stops working (401), and no event says so."
    )
    if controls.button("Client regenerates its own key in its hub"):
        controls.run(
            "regenerate_key",
            lambda: send_key_regeneration(sandbox, channel_id),
            f"{story.target}: the client's own key replaced the partner's.",
            channel_id,
        )
    controls.answer("regenerate_key")


def account_alerts(controls: DemoControls, story: Story) -> None:
    st.markdown("**Account violation or restriction** (Meta)")
    st.caption(
        f"The hub names the number only ({story.number or 'not known here yet'}), as 360dialog does; the console "
        "matches it to this channel by its digits."
    )
    for event, label in zip(ACCOUNT_ALERT_EVENTS, ("Send account violation", "Send account restriction"), strict=True):
        if controls.button(label):
            controls.run(
                event,
                lambda event=event: send_account_alert(controls.sandbox, story.channel_id, event),
                f"The {event.replace('_', ' ')} is on its way to the receiver.",
                story.channel_id,
            )
        controls.answer(event)


def template_status(controls: DemoControls, story: Story) -> None:
    st.markdown("**Template status change** (Meta)")
    st.caption(
        f"On the WhatsApp Business Account of {story.business}: the event names the WABA, not a channel, and "
        "reaches every number of it."
    )
    status = st.selectbox("Template status", TEMPLATE_STATUSES)
    if controls.button("Send template status change"):
        controls.run(
            "template_status",
            lambda: send_template_status(controls.sandbox, story.channel_id, status),
            "The template status change is on its way to the receiver.",
            story.channel_id,
        )
    controls.answer("template_status")


def cancellation(controls: DemoControls, story: Story) -> None:
    st.markdown("**Cancellation** (the client, then 360dialog)")
    st.caption(
        f"For {story.target}. A processed cancellation sets terminated_at: the channel leaves the funnel and takes "
        "no key."
    )
    step = st.selectbox("Cancellation step", list(CANCELLATION_STEPS), format_func=CANCELLATION_STEPS.get)
    if controls.button("Send cancellation step"):
        controls.run(
            "cancellation",
            lambda: send_cancellation(controls.sandbox, story.channel_id, step),
            "The cancellation step is on its way to the receiver.",
            story.channel_id,
        )
    controls.answer("cancellation")


def portfolio_limit(controls: DemoControls, story: Story) -> None:
    st.markdown("**Business portfolio limit** (Meta)")
    client_id = story.row["client_id"]
    numbers = [spelled_out(number) for number in client_numbers(controls.db, client_id)] if client_id else []
    st.caption(
        f"Meta sets the limit per business portfolio: every number of {story.business} "
        f"({', '.join(numbers)}) takes it, and a drop is one alert naming them all."
    )
    limit = st.selectbox("Portfolio limit", PORTFOLIO_LIMITS + MESSAGING_LIMITS, index=1)
    if controls.button("Send portfolio limit", disabled=not client_id):
        controls.run(
            "portfolio_limit",
            lambda: send_portfolio_limit(controls.sandbox, client_id, limit),
            "One quality event per number of the portfolio is on its way to the receiver.",
            story.channel_id,
        )
    controls.answer("portfolio_limit")
