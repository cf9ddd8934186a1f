"""Channels and keys: every channel with its status, what needs attention, one channel's story, its key."""

import streamlit as st

from dashboard.channel_views import (
    attention_table,
    bulk_report,
    channel_facts,
    channels_table,
    funnel_metrics,
    readiness_report,
    sync_report,
    timeline_table,
)
from dashboard.context import (
    get_db,
    get_partner_api,
    get_readiness_config,
    get_vault,
    operator,
    require_settings,
)
from dashboard.key_views import (
    bulk_keys_download,
    channel_label,
    readiness_panel,
    remember_bulk_keys,
    remember_new_key,
    shown_once_key,
)
from dashboard.plain_text import escape_markdown
from dashboard.widgets import capped, show_partner_error
from services.channels.attention import needs_attention
from services.channels.permission import refresh_permissions
from services.channels.projection import get_channel
from services.channels.query import (
    COUNT_CAP,
    FUNNEL_STAGES,
    KEY_STATUSES,
    ChannelFilter,
    client_name,
    count_channels,
    funnel,
    page_channels,
)
from services.channels.sync_runs import SyncBusy, run_sync
from services.channels.timeline import channel_timeline
from services.keys.bulk import eligible_channel_ids, generate_many, prepare_many
from services.keys.generation import KeyNotAllowed, eligibility_problem, generate_key, has_active_key, key_status
from services.keys.readiness import KeyNotReady, key_readiness, prepare_key, unprepared_channel_ids
from services.partner_api import PartnerApiError
from services.store import open_console_db

PAGE_SIZE = 50
REFRESH_SECONDS = 3

settings = require_settings()
st.title("Channels and keys")
db = get_db()
shown_once_key(db, operator())
bulk_keys_download(db, operator(), key="bulk-keys-earlier")

sync_col, bulk_col, ready_col = st.columns(3)
if sync_col.button("Sync from the Partner API", width="stretch"):
    bar = st.progress(0.0, text="Reading channels from the Partner API…")
    try:
        _, report = run_sync(
            db,
            get_partner_api(),
            trigger="operator",
            operator=operator(),
            on_progress=lambda done, total: bar.progress(done / total, text=f"{done:,} of {total:,} channels"),
        )
    except SyncBusy as busy:
        bar.empty()
        st.warning(escape_markdown(str(busy)), icon="⏳")
    except PartnerApiError as error:
        show_partner_error(error)
    else:
        bar.progress(1.0, text="Done")
        sync_report(report)

if bulk_col.button("Generate keys for every eligible channel", width="stretch", help="Running, no key yet"):
    eligible = eligible_channel_ids(db, direct_paid=settings.direct_paid)
    bar = st.progress(0.0, text=f"Generating keys for {len(eligible)} channels…")
    summary = generate_many(
        lambda: open_console_db(settings.console_db_path),
        get_partner_api(),
        get_vault(),
        eligible,
        operator=operator(),
        direct_paid=settings.direct_paid,
        readiness=get_readiness_config(),
        on_progress=lambda done, total, _outcome: bar.progress(done / total, text=f"{done} of {total} channels"),
    )
    bulk_report(summary)
    remember_bulk_keys([outcome.result for outcome in summary.succeeded if outcome.result])
    bulk_keys_download(db, operator(), key="bulk-keys-new")

waiting = unprepared_channel_ids(db)
if ready_col.button(
    f"Make {len(waiting)} key(s) ready to use" if waiting else "Every key is ready to use",
    width="stretch",
    disabled=not waiting,
    key="make-keys-ready",
    help="For each active key not ready yet: check it, set its number's messaging webhook, read it back",
):
    bar = st.progress(0.0, text=f"Making {len(waiting)} keys ready…")
    readiness_report(
        prepare_many(
            lambda: open_console_db(settings.console_db_path),
            get_vault(),
            waiting,
            get_readiness_config(),
            operator=operator(),
            on_progress=lambda done, total, _outcome: bar.progress(done / total, text=f"{done} of {total} keys"),
        )
    )

funnel_metrics(funnel(db))
attention = needs_attention(db, stuck_after_minutes=settings.stuck_after_minutes)
with st.expander(f"Needs attention ({len(attention)})", expanded=bool(attention)):
    attention_table(attention)

search_col, status_col, key_col, client_col = st.columns([3, 2, 2, 2])
filters = ChannelFilter(
    search=search_col.text_input("Search", key="channels_search", placeholder="channel, phone, name or client"),
    status=status_col.selectbox("Status", [None, *FUNNEL_STAGES], format_func=lambda s: s or "All", key="ch_status"),
    key_status=key_col.selectbox("Key", [None, *KEY_STATUSES], format_func=lambda s: s or "All", key="ch_key"),
    client_id=client_col.text_input("Client id", key="channels_client").strip() or None,
)
live = st.toggle("Live", value=True, key="channels_live", help="Refresh every 3 seconds; switch off to pause")


def generate(channel_id: str, replace_existing: bool, where) -> None:
    try:
        result = generate_key(
            db,
            get_partner_api(),
            get_vault(),
            channel_id,
            operator=operator(),
            direct_paid=settings.direct_paid,
            replace_existing=replace_existing,
        )
    except KeyNotAllowed as error:
        where.error("No key generated: " + escape_markdown(str(error)))
    except PartnerApiError as error:
        show_partner_error(error, where=where)
    else:
        remember_new_key(result)
        with st.spinner("Making the new key ready: checking it, setting the number's messaging webhook…"):
            prepare_key(db, get_vault(), channel_id, get_readiness_config(), operator=operator())
        st.rerun()


def readiness_controls(channel: dict) -> None:
    if key_status(db, channel["id"]) != "active":
        return
    label = channel_label(channel)
    step = readiness_panel(key_readiness(db, channel["id"]), label=label, key=f"ready-{channel['id']}")
    if step is None:
        return
    try:
        with st.spinner(f"Working on the key of {label}…"):
            prepare_key(db, get_vault(), channel["id"], get_readiness_config(), operator=operator(), start_at=step)
    except KeyNotReady as error:
        st.error(escape_markdown(str(error)))
        return
    st.rerun()


def permission_check(channel: dict) -> None:
    client = client_name(db, channel["client_id"]) or f"client {channel['client_id']}"
    if not st.button(f"Ask 360dialog which numbers {client} shared", key=f"permission-{channel['id']}"):
        return
    try:
        check = refresh_permissions(db, get_partner_api(), channel["client_id"], operator=operator())
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


def key_controls(channel: dict) -> None:
    problem = eligibility_problem(channel, direct_paid=settings.direct_paid)
    if problem:
        st.text(f"No key can be generated now: {problem}")
        if settings.direct_paid and channel["client_id"] and channel["status"] == "running":
            permission_check(channel)
        return
    replacing = has_active_key(db, channel["id"])
    confirmed = True
    if replacing:
        confirmed = st.checkbox(
            "This channel has a key. A new key revokes the current one: confirm.", key=f"replace-{channel['id']}"
        )
    label = "Generate a new API key" if replacing else "Generate API key"
    if st.button(label, key=f"generate-{channel['id']}", type="primary", disabled=not confirmed):
        generate(channel["id"], replacing, st)


def open_selected_row() -> None:
    # Mapped through the ids rendered with the table: a live refresh may have reordered it since.
    rows = st.session_state["channels_table"].selection.rows
    ids = st.session_state.get("channels_page_ids", [])
    if rows and rows[0] < len(ids):
        st.session_state["channels_open"] = ids[rows[0]]


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def channel_list() -> None:
    total = count_channels(db, filters)
    pages = max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE))
    if st.session_state.get("channels_page", 1) > pages:
        st.session_state["channels_page"] = pages  # the filter narrowed the list under the current page
    page = st.number_input("Page", min_value=1, max_value=pages, value=1, key="channels_page")
    rows = page_channels(db, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    st.text(f"{capped(total, COUNT_CAP)} channels · page {page} of {pages}")
    if not rows:
        st.info("No channel yet. Hand a client an onboarding link from the Connect page." if not total else "None.")
        return
    st.session_state["channels_page_ids"] = [row["id"] for row in rows]
    channels_table(rows, key="channels_table", on_select=open_selected_row)
    ids = list(dict.fromkeys([row["id"] for row in rows] + [item.channel_id for item in attention]))
    chosen = st.selectbox("Open channel (or select its row)", ids, key="channels_open")
    channel = get_channel(db, chosen) if chosen else None
    if channel is None:
        return
    with st.container(border=True):
        channel_facts(channel, key_status(db, channel["id"]))
        key_controls(channel)
        readiness_controls(channel)
        st.text("Timeline")
        timeline_table(channel_timeline(db, channel["id"]))


channel_list()
