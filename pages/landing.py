"""Redirect landing: where 360dialog sends the client's browser back when onboarding ends (full page or popup).

The one public page. The query is stored before anything is shown (within the limits on what one session and
one source may store; it asks 360dialog nothing); a visitor who has not signed in then sees only the client's
page: what the query itself says (completed, cancelled, nothing shared, or not readable) in the partner's words.
In demo mode the browser coming back from the sandbox hub sees that page too, with the operator's view one
button away. A signed-in operator sees the result: what was decided about the redirect
(applied, or held for review and why), the client by its business name, and per channel its number, display
name, status and next step, with a link to the channel's own view. Names are read only for an operator.
"""

import streamlit as st

from dashboard.auth import current_operator
from dashboard.connect_widgets import channels_page_link, popup_closer, redirect_channels, redirects_page_link
from dashboard.context import get_db, require_settings
from dashboard.landing_views import (
    CLIENT_TITLES,
    OPERATOR_VIEW,
    OUTCOME,
    client_landing,
    remember_outcome,
    store_landing_redirect,
)
from dashboard.plain_text import escape_markdown
from services.onboarding.redirect_params import UNREADABLE
from services.read_models.redirects import channel_next_steps, client_names, recent_redirects, redirect_view

STATE_MATCH_NOTES = {
    "matched": "It came back through a link handed out by {operator}.",
    "already used": "Its state belongs to a link that was already used: this may be a replayed redirect.",
    "expired link": "Its state belongs to a link past its lifetime.",
    "closed link": "Its state belongs to a link an operator closed.",
    "unknown state": "Its state matches no link handed out from this console.",
    "no state": "It carries no state, so it cannot be tied to a link (the hub may not echo state).",
}

db = get_db()
settings = require_settings()
params = {key: st.query_params.get_all(key) for key in st.query_params}
if params:
    # Stored before anything else: a reload, a closed tab or a crash after this line loses nothing. Nothing
    # here asks 360dialog: whatever needs its word waits for the scheduler or an operator.
    remember_outcome(params)
    stored = store_landing_redirect(db, params, settings)
    st.session_state["landing"] = stored.id if stored is not None else None
    st.session_state["landing_dropped"] = stored is None
    st.query_params.clear()


def show_operator_view(shown: bool) -> None:
    st.session_state[OPERATOR_VIEW] = shown


operator = current_operator()
if operator is None or (settings.demo_mode and not st.session_state.get(OPERATOR_VIEW)):
    client_landing(settings)
    if operator is not None:
        # Demo mode: the demo's browser is the client's, and the operator's; the client's page comes first.
        st.divider()
        st.button(
            "Operator view",
            on_click=show_operator_view,
            args=(True,),
            help="What was stored and decided about this redirect",
        )
    popup_closer()
    st.stop()

st.title("Onboarding result")
if settings.demo_mode:
    st.button("What the client sees", on_click=show_operator_view, args=(False,))
st.caption(f"The client's page said: {CLIENT_TITLES[st.session_state.get(OUTCOME, UNREADABLE)]}.")
redirect_id = st.session_state.get("landing")
view = redirect_view(db, redirect_id) if redirect_id is not None else None
if view is None:
    if st.session_state.get("landing_dropped"):
        st.warning(
            "This redirect was not stored: a limit on unreviewed redirects was reached. The Redirects page counts "
            "it by source; discarding the waiting ones makes room."
        )
        redirects_page_link()
    earlier = recent_redirects(db)
    if not st.session_state.get("landing_dropped"):
        st.info(
            "This visit brought no redirect. The latest ones that landed are below; the Redirects page has them all."
            if earlier
            else "Nothing has landed here yet. When a client finishes onboarding, 360dialog sends them back here."
        )
    if earlier:
        st.subheader("Earlier redirects")
        st.dataframe(earlier, hide_index=True)
    st.stop()

if view.error:
    st.error("This redirect cannot be used. It is stored as it came; nothing was applied.")
    st.text("Why:")
    st.code(view.error, language=None)
    st.text("As received:")
    st.code(view.raw_query, language=None, wrap_lines=True)
else:

    @st.fragment(run_every=3)
    def result() -> None:
        """The verdict moves on when the scheduler has 360dialog's word, and channel and key status as webhooks
        arrive: read them again here."""
        current = redirect_view(db, view.id) or view
        note = STATE_MATCH_NOTES.get(current.state_match or "", "").format(
            operator=escape_markdown(current.link_operator or "?")
        )
        if current.applied:
            st.success(f"Onboarding finished and the redirect was {current.verdict_label}.")
            st.caption(note)
        else:
            st.warning(
                f"Redirect #{current.id} is {current.verdict_label}: nothing was changed. "
                f"Why: {escape_markdown(current.verdict_reason or 'not decided yet')}. {note}"
            )
            redirects_page_link()
        business = client_names(db, [current.client]).get(current.client or "")
        st.text(f"Client: {business}" if business else "Client")
        st.code(current.client, language=None)
        if current.revoked and current.applied:
            st.warning(
                f"The client withdrew permission for {len(current.revoked)} channel(s): they are marked revoked, and "
                f"{current.keys_marked_unusable} stored key(s) of theirs are marked unusable. No key can be "
                "generated for them until the client grants permission again."
            )
        st.subheader(f"Channels granted ({len(current.channels)}) and revoked ({len(current.revoked)})")
        redirect_channels(channel_next_steps(db, current))

    result()
    channels_page_link()

popup_closer()
