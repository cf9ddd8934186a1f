"""The Connect page's current link: handed out and waited on, then what became of it (the client back, closed,
expired); and the history of links handed out, to reopen one."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.connect_form import may_not_hand_out, new_link
from dashboard.connect_snippet import connect_button_snippet, console_link_snippet
from dashboard.connect_widgets import (
    channels_page_link,
    client_page_link,
    duration_text,
    popup_button,
    qr_code,
    redirect_channels,
    redirects_page_link,
)
from dashboard.context import get_db, require_settings
from dashboard.plain_text import escape_markdown
from services.onboarding.links import (
    HandedOutLink,
    LinkNotOpen,
    close_link,
    get_link,
    link_history,
    link_seconds_left,
    link_status,
    reopened_link,
    stored_request,
)
from services.read_models.redirects import RedirectView, channel_next_steps, client_label, redirect_for_state
from services.times import utc_text


def current_link() -> None:
    """The link in hand: none yet, open (waiting for the client, handed out), or done with (its outcome)."""
    link = st.session_state.get("connect_link")
    if link is None:
        st.info("No link yet. Each client gets a link of their own: make one when you are about to hand it out.")
        new_link_button()
        return
    current = phase(link)
    if current == "open":
        waiting_for_the_client(link)
        left, right = st.columns(2)
        with left:
            new_link_button("A new state and, with IO Signature, a new signature", primary=False)
        with right:
            close_button(link)
        hand_out(link)
        return
    if current == "back":
        result(link)
        st.info("This link has done its job. The next client needs a new one.")
    elif current == "closed":
        link_caption(link, current)
        st.warning("This link is closed: the client can no longer use it. Hand out a new one.")
    else:
        link_caption(link, current)
        st.warning("This link has expired. Hand out a new one.")
    new_link_button()


def phase(link: HandedOutLink) -> str:
    """open (hand it out), back (the client came back through it: show the result) or expired."""
    db = get_db()
    if redirect_for_state(db, link.state) is not None:
        return "back"
    row = get_link(db, link.state)
    return link_status(row) if row else "expired"


def link_caption(link: HandedOutLink, status: str) -> None:
    when = utc_text(link.created_at, to="minute")
    note = f"Link created {when} UTC by {escape_markdown(link.operator)} · status: **{status}**"
    row = get_link(get_db(), link.state)
    if row and status == "open":
        note += f" · works for {duration_text(link_seconds_left(row))} more"
        if link.token:
            note += " · signed afresh at each click"
    if row and row["clicks"]:
        note += f" · clicked {row['clicks']} time(s)"
    st.caption(note)


@st.fragment(run_every=2)
def waiting_for_the_client(link: HandedOutLink) -> None:
    """Polls the link: once the client is back (popup or not) or it expired, the whole page moves on."""
    status = phase(link)
    if status != "open":
        st.rerun()
    link_caption(link, status)
    st.caption("Waiting for the client to come back through this link…")


def hand_out(link: HandedOutLink) -> None:
    st.subheader("Hand it out")
    popup_col, tab_col = st.columns(2)
    with popup_col:
        popup_button(link.url)
    tab_col.link_button("Open onboarding", link.url, type="secondary", help="Opens the link in a new tab")
    st.code(link.url, language=None, wrap_lines=True)
    qr_tab, snippet_tab = st.tabs(["QR code", "Embed snippet" if link.token else "ConnectButton snippet"])
    with qr_tab:
        qr_code(link.url)
    with snippet_tab:
        if link.token:
            st.code(console_link_snippet(link.url), language="html")
            return
        request = st.session_state.get("connect_request") or stored_request(get_link(get_db(), link.state) or {})
        st.code(
            connect_button_snippet(
                require_settings().partner_id,
                env=request.env,
                version=request.version,
                number=request.number,
                params={**request.params, "state": link.state},
            ),
            language="jsx",
        )


@st.fragment(run_every=3)
def result(link: HandedOutLink) -> None:
    """The client came back: who, which numbers, and each number's status as webhooks move it on."""
    db = get_db()
    view: RedirectView | None = redirect_for_state(db, link.state)
    if view is None:  # pragma: no cover - a redirect once stored stays
        return
    link_caption(link, "redirected")
    if view.applied:
        st.success(f"The client came back through this link; the redirect was {view.verdict_label}.")
    else:
        st.warning(
            f"The client came back, and redirect #{view.id} is {view.verdict_label}: "
            + escape_markdown(view.verdict_reason or "not decided yet")
        )
        redirects_page_link()
    client = client_label(db, view.client)
    st.text(f"Client: {client}")
    redirect_channels(channel_next_steps(db, view))
    if view.client:
        client_page_link(f"{client}: every number, redirect and event", view.client)
    if view.revoked:
        st.warning(
            f"The client withdrew permission for {len(view.revoked)} channel(s); "
            f"{view.keys_marked_unusable} stored key(s) marked unusable."
        )
    channels_page_link()


def close_current_link(link: HandedOutLink) -> None:
    """Close the link: its console route refuses it, and its state vouches for no redirect any more."""
    try:
        close_link(get_db(), link.state, actor=context.current_person())
    except LinkNotOpen as error:
        st.session_state["connect_error"] = str(error)


def close_button(link: HandedOutLink) -> None:
    reason = may_not_hand_out()
    st.button(
        "Close this link",
        on_click=close_current_link,
        args=(link,),
        key="close_link",
        disabled=bool(reason),
        help=reason or "The client can no longer start onboarding with it",
    )


def new_link_button(what_it_makes: str = "A new state bound to you", *, primary: bool = True) -> None:
    """The one "New link" button, disabled with the reason for a role that may not hand links out."""
    reason = may_not_hand_out()
    st.button(
        "New link",
        type="primary" if primary else "secondary",
        on_click=new_link,
        key="new_link",
        disabled=bool(reason),
        help=reason or what_it_makes,
    )


def history_label(row: dict) -> str:
    # No status here: the choice keeps its words while the table beside it moves on.
    who = row["business"] or row["numbers"] or "no client named"
    return f"{row['created']} · {who} · by {row['operator']} · state {row['state'][:8]}…"


def reopen(state: str) -> None:
    """Show a link from the history again, as it was handed out: to copy, or to close."""
    row = get_link(get_db(), state)
    if row is None:
        return
    st.session_state["connect_link"] = reopened_link(row)
    st.session_state["connect_request"] = stored_request(row)
    st.session_state.pop("connect_error", None)


@st.fragment(run_every=5)
def history() -> None:
    st.subheader("Links handed out")
    rows = link_history(get_db())
    if not rows:
        st.caption("None yet.")
        return
    st.dataframe(
        rows,
        hide_index=True,
        column_order=[
            "created", "operator", "status", "expires", "clicks", "last click", "business", "numbers", "client",
            "environment", "version", "parameters", "state",
        ],
    )  # fmt: skip
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    by_state = {row["state"]: row for row in rows}
    chosen = left.selectbox(
        "A link handed out",
        list(by_state),
        format_func=lambda state: history_label(by_state[state]),
        key="reopen_state",
    )
    if right.button("Reopen", key="reopen", help="Show it again to copy, hand out again or close"):
        reopen(chosen)
        st.rerun()
