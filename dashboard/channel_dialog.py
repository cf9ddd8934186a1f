"""One channel in its own dialog on the Channels page: its facts and links, its key (generate, check, make
ready), a sync of this channel alone, and its timeline."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import context
from dashboard.channel_views import channel_facts, channel_links, timeline_table
from dashboard.context import (
    PartnerApiError,
    get_db,
    get_health_config,
    get_partner_api,
    get_readiness_config,
    get_vault,
    require_settings,
)
from dashboard.key_views import has_unstored_keys, key_health_panel, readiness_panel, remember_new_key, shown_once_key
from dashboard.linked_view import LinkedView
from dashboard.plain_text import escape_markdown
from dashboard.widgets import refused, refused_note, show_partner_error
from services.channels.endings import ended_reason
from services.channels.hub_links import hub_channel_url
from services.channels.labels import ChannelLabel, channel_label
from services.channels.permission import refresh_permissions
from services.channels.projection import get_channel
from services.channels.sync import sync_one_channel
from services.keys.generation import KeyNotAllowed, eligibility_problem, generate_key, has_active_key
from services.keys.health.checks import check_channel_key
from services.keys.health.reading import channel_key_health
from services.keys.key_status import key_status
from services.keys.readiness import KeyNotReady, key_readiness, prepare_key
from services.read_models.channel_timeline import channel_timeline


def show_channel(channel_id: str, view: LinkedView) -> None:
    """The channel's dialog; dismissing it closes the view. A key shown once cannot be dismissed by a stray click
    outside: only "I have stored it" closes it."""
    title = channel_label(get_db(), channel_id).text
    st.dialog(title, width="large", dismissible=not has_unstored_keys(), on_dismiss=view.close)(channel_view)(
        channel_id
    )


def channel_view(channel_id: str) -> None:
    db = get_db()
    settings = require_settings()
    channel = get_channel(db, channel_id)
    if channel is None:
        st.info("This channel is not known here (yet). A sync or its first webhook will bring it.")
        return
    label = channel_label(db, channel_id)
    shown_once_key(db, context.current_person())
    channel_facts(channel, key_status(db, channel_id), label)
    channel_links(label, hub_channel_url(settings.hub_url, settings.partner_id, channel_id))
    key_controls(channel, label)
    readiness_controls(channel, label)
    sync_this(channel, label)
    st.text("Timeline")
    timeline_table(channel_timeline(db, channel_id))


def key_controls(channel: dict[str, Any], label: ChannelLabel) -> None:
    settings = require_settings()
    # An ended channel takes no key, whatever its last status says.
    problem = ended_reason(channel) or eligibility_problem(channel, direct_paid=settings.direct_paid)
    if problem:
        st.text(f"No key can be generated now: {problem}")
        if settings.direct_paid and channel["client_id"] and channel["status"] == "running":
            permission_check(channel, label)
        return
    replacing = has_active_key(get_db(), channel["id"])
    reason = refused_note("generate_key")
    confirmed = True
    if replacing:
        confirmed = st.checkbox(
            f"{label.text} has a key. A new key revokes the current one: confirm.",
            key=f"replace-{channel['id']}",
            disabled=bool(reason),
        )
    title = f"Generate a new key for {label.text}" if replacing else f"Generate key for {label.text}"
    disabled = bool(reason) or not confirmed
    if st.button(title, key=f"generate-{channel['id']}", type="primary", disabled=disabled, help=reason):
        generate(channel, label.text, replacing)


def generate(channel: dict[str, Any], label: str, replace_existing: bool) -> None:
    db = get_db()
    try:
        result = generate_key(
            db,
            get_partner_api(),
            get_vault(),
            channel["id"],
            actor=context.current_person(),
            direct_paid=require_settings().direct_paid,
            replace_existing=replace_existing,
        )
    except KeyNotAllowed as error:
        st.error("No key generated: " + escape_markdown(str(error)))
        return
    except PartnerApiError as error:
        show_partner_error(error)
        return
    remember_new_key(result, label)
    with st.spinner(f"Making the new key of {label} ready: checking it, setting its messaging webhook…"):
        prepare_key(db, get_vault(), channel["id"], get_readiness_config(), actor=context.current_person())
    st.rerun()


def permission_check(channel: dict[str, Any], label: ChannelLabel) -> None:
    business = label.client_name or f"client {channel['client_id']}"
    reason = refused("check_permission")
    title = f"Ask 360dialog which numbers {business} shared"
    if not st.button(title, key=f"permission-{channel['id']}", disabled=bool(reason), help=reason):
        return
    try:
        check = refresh_permissions(get_db(), get_partner_api(), channel["client_id"], actor=context.current_person())
    except PartnerApiError as error:
        show_partner_error(error)
        return
    if not check.known:
        st.warning(
            "360dialog answered in a shape this console does not recognise; nothing was changed. "
            "The answer's shape is unconfirmed: see docs/contract.md.",
            icon="⚠️",
        )
        return
    st.rerun()


def readiness_controls(channel: dict[str, Any], label: ChannelLabel) -> None:
    db = get_db()
    if key_status(db, channel["id"]) not in ("active", "stopped"):
        return
    health = channel_key_health(db, channel["id"])
    minutes = require_settings().key_health.minutes
    if key_health_panel(health, label=label.text, minutes=minutes, key=f"health-{channel['id']}"):
        check_health_now(channel, label.text)
    step = readiness_panel(key_readiness(db, channel["id"]), label=label.text, key=f"ready-{channel['id']}")
    if step is None:
        return
    try:
        with st.spinner(f"Working on the key of {label.text}…"):
            prepare_key(
                db, get_vault(), channel["id"], get_readiness_config(), actor=context.current_person(), start_at=step
            )
    except KeyNotReady as error:
        st.error(escape_markdown(str(error)))
        return
    st.rerun()


def check_health_now(channel: dict[str, Any], label: str) -> None:
    try:
        with st.spinner(f"Asking 360dialog about the key of {label}…"):
            outcome = check_channel_key(
                get_db(), get_vault(), get_health_config(), channel["id"], actor=context.current_person()
            )
    except KeyNotReady as error:
        st.error(escape_markdown(str(error)))
        return
    if outcome is None:
        st.warning("Not checked: a key-health round is checking this key right now. Look again in a moment.")
        return
    st.rerun()


def sync_this(channel: dict[str, Any], label: ChannelLabel) -> None:
    reason = refused("sync_channels")
    title = f"Sync {label.text} from the Partner API"
    if not st.button(title, key=f"sync-{channel['id']}", disabled=bool(reason), help=reason):
        return
    try:
        changed = sync_one_channel(get_db(), get_partner_api(), channel["id"], actor=context.current_person())
    except PartnerApiError as error:
        show_partner_error(error)
        return
    st.toast(f"{label.text}: {changed}" if changed else f"{label.text} is as 360dialog has it.")
    st.rerun()
