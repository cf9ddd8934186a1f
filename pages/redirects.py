"""Redirects: every redirect received, what was decided about it, and the ones waiting for an operator."""

import streamlit as st

from dashboard.context import get_db, get_partner_api, operator
from dashboard.plain_text import escape_markdown
from dashboard.widgets import show_partner_error
from services.onboarding.redirect_trust import apply_after_review, discard
from services.onboarding.redirects import recent_redirects, review_items
from services.partner_api import PartnerApiError

REVIEW_LIMIT = 50
HISTORY_LIMIT = 500

st.title("Redirects")
st.caption(
    "A redirect from 360dialog is a claim: it is applied by itself only when it came back through a link "
    "handed out here or 360dialog confirms its channels. Anything else waits here, and changes nothing until "
    "you apply it (after the same check with 360dialog) or discard it."
)
db = get_db()

waiting = review_items(db, REVIEW_LIMIT)
st.subheader(f"Waiting for review ({len(waiting)})")
if not waiting:
    st.info("No redirect is waiting for review.")
for row in waiting:
    with st.container(border=True):
        st.markdown(f"**Redirect #{row['id']}** · received {row['received']}")
        st.text(f"Client: {row['client']}\nGrants: {row['channels'] or 'none'}\nRevokes: {row['revoked'] or 'none'}")
        st.caption("Why it is held: " + escape_markdown(row["why"] or "not decided yet"))
        if st.button(f"Check with 360dialog and apply redirect #{row['id']}", key=f"apply-{row['id']}"):
            try:
                decision = apply_after_review(db, get_partner_api(), row["id"], operator=operator())
            except PartnerApiError as error:
                show_partner_error(error)
            else:
                if decision.verdict == "held":
                    st.error("Still held: " + escape_markdown(decision.reason))
                else:
                    st.success(f"Redirect #{row['id']} applied.")
                    st.rerun()
        if st.button(f"Discard redirect #{row['id']}", key=f"discard-{row['id']}"):
            discard(db, row["id"], operator=operator())
            st.rerun()

st.subheader("Every redirect")
history = recent_redirects(db, HISTORY_LIMIT)
if history:
    st.dataframe(history, hide_index=True, width="stretch")
else:
    st.info("No redirect has arrived yet. When a client finishes onboarding, 360dialog sends them to the landing page.")
