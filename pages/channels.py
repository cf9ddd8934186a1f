"""Channels and keys: the work queue, every channel, and one channel at a time in its own view with its key."""

import streamlit as st

from dashboard.channel_views import (
    bulk_report,
    channel_facts,
    channel_links,
    channels_table,
    funnel_metrics,
    queue_table,
    readiness_report,
    reason_filter,
    sync_report,
    timeline_table,
)
from dashboard.context import (
    current_person,
    get_db,
    get_partner_api,
    get_readiness_config,
    get_vault,
    require_settings,
)
from dashboard.key_views import (
    bulk_keys_download,
    has_unstored_keys,
    key_health_panel,
    leave_guard,
    readiness_panel,
    remember_bulk_keys,
    remember_new_key,
    shown_once_key,
)
from dashboard.linked_view import LinkedView
from dashboard.plain_text import escape_markdown
from dashboard.widgets import SEARCH_HELP, capped, key_badge, pager, plural, refused, refused_note, show_partner_error
from services.accounts import audit_fields
from services.audit import bulk_run
from services.channels.endings import ended_reason, still_open
from services.channels.hub_links import hub_channel_url
from services.channels.labels import channel_label, channel_labels
from services.channels.permission import refresh_permissions
from services.channels.projection import get_channel
from services.channels.sync import sync_one_channel
from services.channels.sync_runs import SyncBusy, run_sync
from services.keys.bulk import eligible_channel_ids, generate_many, prepare_many
from services.keys.generation import KeyNotAllowed, eligibility_problem, generate_key, has_active_key
from services.keys.health.checks import HealthConfig, check_channel_key
from services.keys.health.reading import channel_key_health
from services.keys.key_status import key_status
from services.keys.readiness import KeyNotReady, key_readiness, prepare_key, unprepared_channel_ids
from services.partner_api import PartnerApiError
from services.read_models.channel_list import (
    COUNT_CAP,
    FUNNEL_STAGES,
    KEY_STATUSES,
    ChannelFilter,
    count_channels,
    funnel,
    page_channels,
)
from services.read_models.channel_timeline import channel_timeline
from services.read_models.workbench import (
    channels_csv,
    matches_filter,
    reason_counts,
    work_queue,
)
from services.store import open_console_db

PAGE_SIZE = 50
REFRESH_SECONDS = 3
view = LinkedView("channel")  # the channel shown in its own view: /channels?open=<id>
QUEUE_CHOICE = "channels_queue_choice"  # the channel the work queue's selected row names

settings = require_settings()
st.title("Channels and keys")
db = get_db()
leave_guard()


def open_db():
    return open_console_db(settings.console_db_path)


def export_csv(channel_filter: ChannelFilter) -> str:
    export_db = open_db()
    try:
        return channels_csv(export_db, channel_filter)
    finally:
        export_db.close()


# -- one channel at a time ----------------------------------------------------------------------------------
def generate(channel: dict, label: str, replace_existing: bool) -> None:
    try:
        result = generate_key(
            db,
            get_partner_api(),
            get_vault(),
            channel["id"],
            actor=current_person(),
            direct_paid=settings.direct_paid,
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
        prepare_key(db, get_vault(), channel["id"], get_readiness_config(), actor=current_person())
    st.rerun()


def permission_check(channel: dict, label) -> None:
    business = label.client_name or f"client {channel['client_id']}"
    reason = refused("check_permission")
    title = f"Ask 360dialog which numbers {business} shared"
    if not st.button(title, key=f"permission-{channel['id']}", disabled=bool(reason), help=reason):
        return
    try:
        check = refresh_permissions(db, get_partner_api(), channel["client_id"], actor=current_person())
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


def key_controls(channel: dict, label) -> None:
    # An ended channel takes no key, whatever its last status says.
    problem = ended_reason(channel) or eligibility_problem(channel, direct_paid=settings.direct_paid)
    if problem:
        st.text(f"No key can be generated now: {problem}")
        if settings.direct_paid and channel["client_id"] and channel["status"] == "running":
            permission_check(channel, label)
        return
    replacing = has_active_key(db, channel["id"])
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


def check_health_now(channel: dict, label: str) -> None:
    try:
        with st.spinner(f"Asking 360dialog about the key of {label}…"):
            outcome = check_channel_key(
                db, get_vault(), HealthConfig.from_settings(settings), channel["id"], actor=current_person()
            )
    except KeyNotReady as error:
        st.error(escape_markdown(str(error)))
        return
    if outcome is None:
        st.warning("Not checked: a key-health round is checking this key right now. Look again in a moment.")
        return
    st.rerun()


def readiness_controls(channel: dict, label) -> None:
    if key_status(db, channel["id"]) not in ("active", "stopped"):
        return
    health = channel_key_health(db, channel["id"])
    if key_health_panel(health, label=label.text, minutes=settings.key_health.minutes, key=f"health-{channel['id']}"):
        check_health_now(channel, label.text)
    step = readiness_panel(key_readiness(db, channel["id"]), label=label.text, key=f"ready-{channel['id']}")
    if step is None:
        return
    try:
        with st.spinner(f"Working on the key of {label.text}…"):
            prepare_key(db, get_vault(), channel["id"], get_readiness_config(), actor=current_person(), start_at=step)
    except KeyNotReady as error:
        st.error(escape_markdown(str(error)))
        return
    st.rerun()


def sync_this(channel: dict, label) -> None:
    reason = refused("sync_channels")
    title = f"Sync {label.text} from the Partner API"
    if not st.button(title, key=f"sync-{channel['id']}", disabled=bool(reason), help=reason):
        return
    try:
        changed = sync_one_channel(db, get_partner_api(), channel["id"], actor=current_person())
    except PartnerApiError as error:
        show_partner_error(error)
        return
    st.toast(f"{label.text}: {changed}" if changed else f"{label.text} is as 360dialog has it.")
    st.rerun()


def channel_view(channel_id: str) -> None:
    channel = get_channel(db, channel_id)
    if channel is None:
        st.info("This channel is not known here (yet). A sync or its first webhook will bring it.")
        return
    label = channel_label(db, channel_id)
    shown_once_key(db, current_person())
    channel_facts(channel, key_status(db, channel_id), label)
    channel_links(label, hub_channel_url(settings.hub_url, settings.partner_id, channel_id))
    key_controls(channel, label)
    readiness_controls(channel, label)
    sync_this(channel, label)
    st.text("Timeline")
    timeline_table(channel_timeline(db, channel_id))


def show_channel(channel_id: str) -> None:
    # A key shown once cannot be dismissed by a stray click outside: only "I have stored it" closes it.
    title = channel_label(db, channel_id).text
    st.dialog(title, width="large", dismissible=not has_unstored_keys(), on_dismiss=view.close)(channel_view)(
        channel_id
    )


# -- every eligible channel at once ---------------------------------------------------------------------------
def bulk_generation(eligible: list[str]) -> None:
    labels = channel_labels(db, eligible)
    if "bulk_summary" not in st.session_state:
        st.write(
            f"This makes {plural(len(eligible), 'key')}, one for each running channel below that has none. "
            "Each key is made once; a channel's earlier key, if 360dialog still had one, stops working."
        )
        st.text("\n".join(labels[channel_id].text for channel_id in eligible[:20]))
        if len(eligible) > 20:
            st.text(f"… and {len(eligible) - 20:,} more")
        reason = refused_note("bulk_generate_keys")
        title = f"Generate {plural(len(eligible), 'key')}"
        if st.button(title, type="primary", key="bulk-confirm", disabled=bool(reason), help=reason):
            run_bulk(eligible)
        return
    summary = st.session_state["bulk_summary"]
    bulk_report(summary, channel_labels(db, [outcome.channel_id for outcome in summary.outcomes]))
    bulk_keys_download(db, current_person(), key="bulk-keys-new")
    failed = [outcome.channel_id for outcome in summary.failed]
    if failed and st.button(f"Retry failed ({len(failed)})", key="bulk-retry"):
        run_bulk(failed)
    if not st.session_state.get("bulk_keys") and st.button("Close", key="bulk-close"):
        st.session_state.pop("bulk_summary", None)
        st.session_state.pop("bulk_open", None)
        st.rerun()


def run_bulk(channel_ids: list[str]) -> None:
    bar = st.progress(0.0, text=f"Generating {plural(len(channel_ids), 'key')}…")
    # The audit lists the run as one line, its rows (a few per key) under it.
    with bulk_run(db, **audit_fields(current_person()), action="bulk_generate_keys"):
        summary = generate_many(
            open_db,
            get_partner_api(),
            get_vault(),
            channel_ids,
            actor=current_person(),
            direct_paid=settings.direct_paid,
            readiness=get_readiness_config(),
            on_progress=lambda done, total, _outcome: bar.progress(done / total, text=f"{done} of {total} channels"),
        )
    remember_bulk_keys([outcome.result for outcome in summary.succeeded if outcome.result])
    st.session_state["bulk_summary"] = summary
    st.rerun()  # the dialog comes back undismissable while its keys are not downloaded


def close_bulk() -> None:
    if not st.session_state.get("bulk_keys"):
        st.session_state.pop("bulk_summary", None)
    st.session_state.pop("bulk_open", None)


# -- actions ---------------------------------------------------------------------------------------------------
# Buttons as wide as their labels, wrapping onto a second line on a narrow screen rather than cutting them.
actions = st.container(horizontal=True)
may_not_sync = refused("sync_channels")
if actions.button("Sync all from the Partner API", disabled=bool(may_not_sync), help=may_not_sync):
    bar = st.progress(0.0, text="Reading channels from the Partner API…")
    try:
        _, report = run_sync(
            db,
            get_partner_api(),
            trigger="operator",
            actor=current_person(),
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

eligible = still_open(db, eligible_channel_ids(db, direct_paid=settings.direct_paid))
may_not_bulk = refused("bulk_generate_keys")
if actions.button(
    f"Generate keys for {plural(len(eligible), 'eligible channel')}",
    disabled=bool(may_not_bulk) or (not eligible and "bulk_summary" not in st.session_state),
    help=may_not_bulk or "Running channels with no key yet; you confirm the list first",
    key="bulk-open",
):
    st.session_state["bulk_open"] = True
if st.session_state.get("bulk_open") or st.session_state.get("bulk_keys"):
    st.dialog("Generate keys", width="large", dismissible=not has_unstored_keys(), on_dismiss=close_bulk)(
        bulk_generation
    )(eligible)

waiting = unprepared_channel_ids(db)
may_not_prepare = refused("prepare_key")
if not waiting:
    actions.caption(":material/check_circle: Every key is ready to use")  # a status, not a button
elif actions.button(
    f"Make {plural(len(waiting), 'key')} ready to use",
    disabled=bool(may_not_prepare),
    key="make-keys-ready",
    help=may_not_prepare
    or "For each active key not ready yet: check it, set its number's messaging webhook, read it back",
):
    bar = st.progress(0.0, text=f"Making {plural(len(waiting), 'key')} ready…")
    with bulk_run(db, **audit_fields(current_person()), action="bulk_prepare_keys"):
        prepared = prepare_many(
            open_db,
            get_vault(),
            waiting,
            get_readiness_config(),
            actor=current_person(),
            on_progress=lambda done, total, _outcome: bar.progress(done / total, text=f"{done} of {total} keys"),
        )
    readiness_report(prepared)

# -- filters, kept in the URL so a reload or a pasted link shows the same list ----------------------------------
# Each widget's key is its URL parameter, named for this page: a key another page also used would carry that
# page's filter here (the session keeps a widget's value under its key).
search_col, status_col, key_col, client_col = st.columns([3, 2, 2, 2])
filters = ChannelFilter(
    search=search_col.text_input(
        "Search",
        key="channels_q",
        placeholder="number (any format), name or business",
        bind="query-params",
        help=SEARCH_HELP,
    ),
    status=status_col.selectbox(
        "Status", [None, *FUNNEL_STAGES], format_func=lambda s: s or "All", key="status", bind="query-params"
    ),
    key_status=key_col.selectbox(
        "Key", [None, *KEY_STATUSES], format_func=lambda s: key_badge(s) if s else "All", key="key", bind="query-params"
    ),
    client_id=client_col.text_input("Client id", key="channels_client", bind="query-params").strip() or None,
    region=settings.phone_region,
)
filtered = filters != ChannelFilter(region=filters.region)
actions.download_button(
    "Download this list (CSV)", data=lambda: export_csv(filters), file_name="channels.csv", mime="text/csv"
)
live = st.toggle("Live", value=True, key="channels_live", help=f"Refresh every {REFRESH_SECONDS} s; off to pause")


def clear_filters() -> None:
    for name, empty in (("channels_q", ""), ("status", None), ("key", None), ("channels_client", "")):
        st.session_state[name] = empty


def selected_id(table_key: str, ids_key: str) -> str | None:
    # Mapped through the ids rendered with the table: a live refresh may have reordered it since.
    state = st.session_state.get(table_key)
    rows = state.selection.rows if state is not None else []
    ids = st.session_state.get(ids_key, [])
    return ids[rows[0]] if rows and rows[0] < len(ids) else None


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def workbench() -> None:
    """Funnel, work queue and list together, so one refresh moves them all."""
    funnel_metrics(funnel(db))
    round_ = view.selection_round
    queue = work_queue(db, stuck_after_minutes=settings.stuck_after_minutes)
    if queue:
        st.subheader(f"Needs attention ({len(queue):,})")
        reason = reason_filter(reason_counts(queue), key="needs")
        shown = [row for row in queue if reason in (None, row.reason)]
        st.session_state["queue_ids"] = [row.channel_id for row in shown]
        queue_table(shown, key=f"queue_table_{round_}", on_select="rerun")
    st.subheader("All channels" if not filtered else "Channels matching the filters")
    total = count_channels(db, filters)
    page, pages = pager(total, PAGE_SIZE, cap=COUNT_CAP)
    rows = page_channels(db, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    if not rows:
        if filtered:
            st.info("No channel matches these filters.")
            st.button("Clear the filters", on_click=clear_filters, key="clear-filters")
        else:
            st.info("No channel yet. Hand a client an onboarding link from the Connect page.")
    else:
        st.caption(f"{plural(total, 'channel') if total < COUNT_CAP else capped(total, COUNT_CAP) + ' channels'}"
                   + (f" · page {page} of {pages}" if pages > 1 else ""))  # fmt: skip
        st.session_state["table_ids"] = [row["id"] for row in rows]
        channels_table(rows, key=f"channels_table_{round_}", on_select="rerun")
    from_queue = selected_id(f"queue_table_{round_}", "queue_ids")
    st.session_state[QUEUE_CHOICE] = from_queue
    chosen = from_queue or selected_id(f"channels_table_{round_}", "table_ids")
    if view.choose(chosen):
        st.rerun()


workbench()

# The channel in view is the one the URL names (a row chosen here, a pasted link, a reload), and closes when
# the filters hide it, unless it was chosen in the work queue (which the filters do not narrow). The session
# only remembers it to tell a newly chosen row from the one already open.
opened = view.current
chosen_in_queue = opened is not None and opened == st.session_state.get(QUEUE_CHOICE)
if opened and (not filtered or chosen_in_queue or matches_filter(db, filters, opened)):
    view.remember(opened)
    show_channel(opened)
elif opened:
    view.close()
if st.session_state.get("new_key") and not opened:
    shown_once_key(db, current_person())
