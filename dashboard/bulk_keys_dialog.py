"""The Channels page's bulk keys: the "Generate keys" button and its dialog (the list to confirm, the run with
its progress, the report, the keys' one download, a retry of the failed)."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.channel_views import bulk_report
from dashboard.context import (
    get_db,
    get_partner_api,
    get_readiness_config,
    get_vault,
    open_own_db,
    require_settings,
)
from dashboard.key_views import bulk_keys_download, has_unstored_keys, remember_bulk_keys
from dashboard.widgets import plural, refused, refused_note
from services.accounts import audit_fields
from services.audit import bulk_run
from services.channels.endings import still_open
from services.channels.labels import channel_labels
from services.keys.bulk import eligible_channel_ids, eligible_count, generate_many

LISTED = 20  # channels named in the confirmation; the rest are counted


def bulk_keys_button(actions: st.delta_generator.DeltaGenerator) -> None:
    """The button among the page's actions, and the dialog it opens (kept open while its keys are not stored)."""
    # Counted on every run; listed only when the dialog is open.
    eligible = eligible_count(get_db(), direct_paid=require_settings().direct_paid)
    may_not_bulk = refused("bulk_generate_keys")
    if actions.button(
        f"Generate keys for {plural(eligible, 'eligible channel')}",
        disabled=bool(may_not_bulk) or (not eligible and "bulk_summary" not in st.session_state),
        help=may_not_bulk or "Running channels with no key yet; you confirm the list first",
        key="bulk-open",
    ):
        st.session_state["bulk_open"] = True
    if st.session_state.get("bulk_open") or st.session_state.get("bulk_keys"):
        st.dialog("Generate keys", width="large", dismissible=not has_unstored_keys(), on_dismiss=close_bulk)(
            bulk_generation
        )()


def bulk_generation() -> None:
    db = get_db()
    eligible = still_open(db, eligible_channel_ids(db, direct_paid=require_settings().direct_paid))
    labels = channel_labels(db, eligible)
    if "bulk_summary" not in st.session_state:
        st.write(
            f"This makes {plural(len(eligible), 'key')}, one for each running channel below that has none. "
            "Each key is made once; a channel's earlier key, if 360dialog still had one, stops working."
        )
        st.text("\n".join(labels[channel_id].text for channel_id in eligible[:LISTED]))
        if len(eligible) > LISTED:
            st.text(f"… and {len(eligible) - LISTED:,} more")
        reason = refused_note("bulk_generate_keys")
        title = f"Generate {plural(len(eligible), 'key')}"
        if st.button(title, type="primary", key="bulk-confirm", disabled=bool(reason), help=reason):
            run_bulk(eligible)
        return
    summary = st.session_state["bulk_summary"]
    bulk_report(summary, channel_labels(db, [outcome.channel_id for outcome in summary.outcomes]))
    bulk_keys_download(db, context.current_person(), key="bulk-keys-new")
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
    with bulk_run(get_db(), **audit_fields(context.current_person()), action="bulk_generate_keys"):
        summary = generate_many(
            open_own_db,  # each worker thread opens its own connection
            get_partner_api(),
            get_vault(),
            channel_ids,
            actor=context.current_person(),
            direct_paid=require_settings().direct_paid,
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
