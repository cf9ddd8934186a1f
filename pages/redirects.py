"""Redirects: every redirect received, what was decided about it, the ones waiting for an operator (all of
them, a page at a time), a discard in bulk, and what the caps kept out."""

import math

import streamlit as st

from dashboard.context import PartnerApiError, current_person, get_db, get_partner_api, require_settings
from dashboard.plain_text import escape_markdown
from dashboard.widgets import refused, refused_note, show_partner_error
from services.onboarding.redirect_decision import HELD, apply_after_review, discard, discard_unreviewed
from services.read_models.redirects import (
    dropped_redirects,
    held_count,
    recent_redirects,
    review_items,
    unreviewed_count,
    unreviewed_sources,
)

PAGE_SIZE = 20
HISTORY_LIMIT = 500
EVERY_SOURCE = "every source"

st.title("Redirects")
st.caption(
    "A redirect from 360dialog is a claim anyone can send. It changes a channel only when it came back through "
    "a link handed out here (for new channels) or 360dialog confirms that very change; the landing page never "
    "asks 360dialog itself. Anything else waits here and changes nothing until you apply it (after a check "
    "with 360dialog) or discard it."
)
db = get_db()
settings = require_settings()


def apply_one(redirect_id: int) -> None:
    try:
        decision = apply_after_review(
            db, get_partner_api(), redirect_id, actor=current_person(), direct_paid=settings.direct_paid
        )
    except PartnerApiError as error:
        show_partner_error(error)
    except ValueError as error:
        st.warning(str(error))
    else:
        if decision.verdict == HELD:
            st.error("Still held: " + escape_markdown(decision.reason))
        else:
            st.success(f"Redirect #{redirect_id} applied.")
            st.rerun()


def waiting_row(row: dict) -> None:
    with st.container(border=True):
        st.markdown(f"**Redirect #{row['id']}** · received {row['received']} · {row['verdict']}")
        st.text(
            f"Client: {row['client']}\nGrants: {row['channels'] or 'none'}\nRevokes: {row['revoked'] or 'none'}\n"
            f"From: {row['source'] or 'not recorded'}"
        )
        st.caption("Why it waits: " + escape_markdown(row["why"] or "not decided yet"))
        may_not_apply, may_not_discard = refused("apply_redirect"), refused("discard_redirect")
        apply_label = f"Check with 360dialog and apply redirect #{row['id']}"
        if st.button(apply_label, key=f"apply-{row['id']}", disabled=bool(may_not_apply), help=may_not_apply):
            apply_one(row["id"])
        discard_label = f"Discard redirect #{row['id']}"
        if st.button(discard_label, key=f"discard-{row['id']}", disabled=bool(may_not_discard), help=may_not_discard):
            discard(db, row["id"], actor=current_person())
            st.rerun()


def bulk_discard() -> None:
    """Every unreviewed redirect (waiting, or unreadable), or one source's, discarded in one audited action."""
    sources = unreviewed_sources(db)
    if not sources:
        return
    total = unreviewed_count(db)
    choices = {f"{EVERY_SOURCE} ({total})": None}
    choices.update({f"{row['source']} ({row['unreviewed']})": row["source"] for row in sources})
    chosen = choices[st.selectbox("Discard in bulk, from", list(choices))]
    count = total if chosen is None else next(row["unreviewed"] for row in sources if row["source"] == chosen)
    scope = "from every source" if chosen is None else f"from {chosen}"
    st.caption(
        "Counts every redirect stored and never applied or dismissed, unreadable ones included. A discard changes "
        "no channel; the audit log records who did it and how many."
    )
    reason = refused("discard_redirect")
    label = f"Discard the {count} unreviewed redirect(s) {scope}"
    if st.button(label, type="primary", disabled=bool(reason), help=reason):
        discarded = discard_unreviewed(db, actor=current_person(), source=chosen)
        st.toast(f"{discarded} redirect(s) discarded.")
        st.rerun()


def dropped() -> None:
    drops = dropped_redirects(db)
    if not drops:
        return
    st.subheader(f"Not stored: caps reached ({sum(row['dropped'] for row in drops)})")
    st.caption(
        "Redirects the landing page did not keep because one browser session, one source or all sources together "
        "had as many unreviewed redirects as the settings allow. Discard or review the waiting ones to make room."
    )
    st.dataframe(drops, hide_index=True, width="stretch")


waiting_total = held_count(db)
st.subheader(f"Waiting for review ({waiting_total})")
refused_note("apply_redirect")
bulk_discard()
dropped()
if not waiting_total:
    st.info("No redirect is waiting for review.")
else:
    pages = math.ceil(waiting_total / PAGE_SIZE)
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1) if pages > 1 else 1
    rows = review_items(db, PAGE_SIZE, offset=(int(page) - 1) * PAGE_SIZE)
    first = (int(page) - 1) * PAGE_SIZE + 1
    st.caption(f"Showing {first}–{first + len(rows) - 1} of {waiting_total}, newest first.")
    for row in rows:
        waiting_row(row)

st.subheader("Every redirect")
history = recent_redirects(db, HISTORY_LIMIT)
if history:
    st.dataframe(history, hide_index=True, width="stretch")
else:
    st.info("No redirect has arrived yet. When a client finishes onboarding, 360dialog sends them to the landing page.")
