"""The Channels page's actions on every channel at once: sync all from the Partner API, and make every active
key that is not ready yet ready to use. (Generating keys in bulk has its dialog: dashboard/bulk_keys_dialog.py.)"""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.channel_views import readiness_report, sync_report
from dashboard.context import (
    PartnerApiError,
    get_db,
    get_partner_api,
    get_readiness_config,
    get_vault,
    open_own_db,
)
from dashboard.plain_text import escape_markdown
from dashboard.widgets import plural, refused, show_partner_error
from services.accounts import audit_fields
from services.audit import bulk_run
from services.channels.sync_runs import SyncBusy, run_sync
from services.keys.bulk import prepare_many
from services.keys.readiness import unprepared_channel_ids, unprepared_count


def sync_all_button(actions: st.delta_generator.DeltaGenerator) -> None:
    may_not_sync = refused("sync_channels")
    if not actions.button("Sync all from the Partner API", disabled=bool(may_not_sync), help=may_not_sync):
        return
    bar = st.progress(0.0, text="Reading channels from the Partner API…")
    try:
        _, report = run_sync(
            get_db(),
            get_partner_api(),
            trigger="operator",
            actor=context.current_person(),
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


def keys_ready_button(actions: st.delta_generator.DeltaGenerator) -> None:
    """ "Make N keys ready to use", or a status saying every key is."""
    # Counted on every run; listed only when clicked.
    count = unprepared_count(get_db())
    may_not_prepare = refused("prepare_key")
    if not count:
        actions.caption(":material/check_circle: Every key is ready to use")  # a status, not a button
        return
    if not actions.button(
        f"Make {plural(count, 'key')} ready to use",
        disabled=bool(may_not_prepare),
        key="make-keys-ready",
        help=may_not_prepare
        or "For each active key not ready yet: check it, set its number's messaging webhook, read it back",
    ):
        return
    waiting = unprepared_channel_ids(get_db())
    bar = st.progress(0.0, text=f"Making {plural(len(waiting), 'key')} ready…")
    with bulk_run(get_db(), **audit_fields(context.current_person()), action="bulk_prepare_keys"):
        prepared = prepare_many(
            open_own_db,  # each worker thread opens its own connection
            get_vault(),
            waiting,
            get_readiness_config(),
            actor=context.current_person(),
            on_progress=lambda done, total, _outcome: bar.progress(done / total, text=f"{done} of {total} keys"),
        )
    readiness_report(prepared)
