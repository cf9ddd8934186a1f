"""Audit: every operator action, who did it, when, to which channel, and how it ended.

Links handed out, redirects applied or discarded, keys generated, revealed, downloaded and made ready, Partner
API syncs, demo controls, sign-ins (the refused ones too). Filters by operator, action, channel and time live in
the URL; the filtered entries export as CSV.
"""

import streamlit as st

from dashboard.audit_views import action_label, audit_table, run_in_view
from dashboard.context import get_db
from dashboard.widgets import TIME_RANGES, capped, since_for
from services.audit import (
    COUNT_CAP,
    EXPORT_MAX_ROWS,
    AuditFilter,
    actions,
    audit_csv,
    count_entries,
    entries,
    operators,
)

PAGE_SIZE = 50
ANY = "All"

st.title("Audit")
st.caption(
    "Every operator action with who, when, what and the outcome. A channel opens on the Channels page; a bulk "
    "run is one line that opens its own rows."
)
db = get_db()
run_id = run_in_view(st.query_params.get("run"))
if run_id is not None:
    st.subheader(f"One bulk run's rows (run #{run_id})")
    st.button("Back to every entry", on_click=lambda: st.query_params.pop("run", None), key="all-entries")

operator_col, action_col = st.columns(2)
channel_col, range_col = st.columns(2)
operator = operator_col.selectbox(
    "Operator",
    [ANY, *operators(db)],
    # Not "operator": a filter's key must never look like who is signed in.
    key="who",
    bind="query-params",
    accept_new_options=True,
    help="Those who acted lately are listed; type any other name.",
)
action = action_col.selectbox(
    "Action",
    [ANY, *actions(db)],
    format_func=lambda name: name if name == ANY else action_label(name),
    key="action",
    bind="query-params",
)
channel_id = channel_col.text_input("Channel id", key="channel", bind="query-params").strip()
time_range = range_col.selectbox(
    "Time range", list(TIME_RANGES), index=len(TIME_RANGES) - 1, key="range", bind="query-params"
)

audit_filter = AuditFilter(
    operator=None if operator in (ANY, None) else operator,
    action=None if action in (ANY, None) else action,
    channel_id=channel_id or None,
    since=since_for(time_range),
    run_id=run_id,
)
total = count_entries(db, audit_filter)
pages = max(1, -(-total // PAGE_SIZE))
if total == 0:
    st.info("No entry matches." if actions(db) else "Nothing has been done yet.")
else:
    page = st.pagination(pages, key="page", bind="query-params") if pages > 1 else 1
    st.text(f"{capped(total, COUNT_CAP)} entries · page {page} of {pages}, newest first")
    audit_table(entries(db, audit_filter, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
st.download_button(
    "Export CSV",
    data=lambda: audit_csv(db, audit_filter),
    file_name="audit.csv",
    mime="text/csv",
    on_click="ignore",
    disabled=total == 0,
    help=f"The filtered entries, newest first, up to {EXPORT_MAX_ROWS:,} rows.",
)
