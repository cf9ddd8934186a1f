"""Connect: build an IO link for a client when asked, hand it out, and see what became of it.

Loading the page makes no link: "New link" or the form does. Once the client is back through the current link,
its hand-out gives way to the result (the client, its numbers, each opening in Channels and keys). In live mode
links go to the hub the settings name (D360_HUB_URL, else D360_HUB_ENV); demo mode offers every hub. A link from
the history can be reopened, copied again and closed."""

import streamlit as st

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
from dashboard.context import current_person, get_db, require_settings
from dashboard.plain_text import escape_markdown
from dashboard.widgets import refused_note
from services.onboarding.io_link import InvalidLinkParameter, hub_base
from services.onboarding.links import (
    HandedOutLink,
    LinkNotOpen,
    LinkRequest,
    close_link,
    for_next_client,
    get_link,
    hand_out_link,
    link_history,
    link_seconds_left,
    link_status,
    reopened_link,
    sandbox_hub_url,
    stored_request,
)
from services.read_models.redirects import RedirectView, channel_next_steps, client_label, redirect_for_state

settings = require_settings()
db = get_db()

ENVIRONMENT_LABELS = {"prod": "production", "staging": "staging", "rc": "rc", "local": "local", "sandbox": "sandbox"}
VERSION_LABELS = {"v1": "v1 classic (…/dashboard/app/{id}/permissions)", "v2": "v2 (app.360dialog.com/onboarding/{id})"}
# Demo mode offers every hub, the sandbox first; live mode builds links for the one hub the settings name.
environments = [env for env in ENVIRONMENT_LABELS if env != "sandbox" or settings.demo_mode or settings.hub_env == env]
# The form's fields that name one client: emptied once its link is handed out, so the next client starts clean.
CLIENT_FIELDS = ("f_number", "f_email", "f_name", "f_partner", "f_connect_client_user", "f_client_id", "f_preverified")


def link_hub(env: str) -> str | None:
    """The .../dashboard/app address links for `env` are built on, when it is not one of 360dialog's own: in live
    mode D360_HUB_URL; the sandbox hub (SANDBOX_URL) when the sandbox is chosen and no D360_HUB_URL is given."""
    if settings.link_hub_url:
        return settings.link_hub_url
    return sandbox_hub_url(settings.sandbox_url) if env == "sandbox" else None


def hub_destination(env: str, version: str) -> str:
    """Where links go, as the page names it; the reason when the settings name no usable hub."""
    try:
        return hub_base(settings.partner_id, env=env, version=version, hub_url=link_hub(env))
    except InvalidLinkParameter as error:
        return f"nowhere: {error}"


st.title("Connect a WhatsApp number")
st.caption(
    f"Partner id: `{settings.partner_id}` · each link gets its own state, bound to you "
    f"({escape_markdown(current_person().id)})."
)
if not settings.demo_mode:
    st.caption(
        f"Links go to `{hub_destination(settings.hub_env, settings.hub_version)}` "
        f"({'D360_HUB_URL' if settings.link_hub_url else ENVIRONMENT_LABELS[settings.hub_env] + ' hub'})."
    )
# Viewers see the links handed out, never make one: a link carries the partner's IO Signature.
may_not_hand_out = refused_note("hand_out_link")


def make_link(request: LinkRequest) -> bool:
    """Hand out a new link; never reuse one: each has its own state and, when used, its own signature. False
    (the reason kept for the page) when it cannot be built."""
    try:
        link = hand_out_link(
            db,
            request,
            partner_id=settings.partner_id,
            actor=current_person(),
            signing_secret=settings.platform_secret if settings.io_signature_enabled else None,
            console_url=settings.public_url,
            link_days=settings.link_days,
        )
    except (InvalidLinkParameter, ValueError) as error:
        st.session_state["connect_error"] = str(error)
        return False
    st.session_state.pop("connect_error", None)
    st.session_state["connect_request"] = request
    st.session_state["connect_link"] = link
    return True


def new_link() -> None:
    """The next client's link: where the last one pointed (or the form's), nothing that named its client."""
    remembered = st.session_state.get("connect_request")
    make_link(for_next_client(remembered) if remembered else request_from_form())


def link_from_form() -> None:
    """The form's link. A callback, so the client's fields can be emptied for the next client before the form
    is drawn again; a refused form keeps what was typed."""
    if make_link(request_from_form()):
        for key in CLIENT_FIELDS:
            st.session_state[key] = ""


def request_from_form() -> LinkRequest:
    values = st.session_state
    env = values["f_env"] if settings.demo_mode else settings.hub_env
    params = {
        "redirect_url": values["f_redirect_url"].strip(),
        "email": values["f_email"].strip(),
        "name": values["f_name"].strip(),
        "partner": values["f_partner"].strip(),
        "next": "login" if values["f_next_login"] else "",
        "plan_selection": values["f_plan"] or "",
        "lang": values["f_lang"] or "",
        "hosting_type": values["f_hosting_type"].strip(),
        "connect_client_user": values["f_connect_client_user"].strip(),
        "client_id": values["f_client_id"].strip(),
        "flow": values["f_flow"].strip(),
        "preverified_phone_number_id": values["f_preverified"].strip(),
    }
    return LinkRequest(
        env=env,
        version=values["f_version"],
        number=values["f_number"].strip() or None,
        params={name: value for name, value in params.items() if value},
        hub_url=link_hub(env),
    )


with st.expander("Link parameters", expanded=False), st.form("link_form", border=False):
    left, right = st.columns(2)
    if settings.demo_mode:
        left.selectbox(
            "Environment",
            environments,
            index=environments.index(settings.hub_env) if settings.hub_env in environments else 0,
            format_func=ENVIRONMENT_LABELS.get,
            key="f_env",
        )
    else:
        left.caption(f"Hub, from the settings: `{hub_destination(settings.hub_env, settings.hub_version)}`")
    right.radio(
        "Hub version",
        list(VERSION_LABELS),
        index=list(VERSION_LABELS).index(settings.hub_version),
        format_func=VERSION_LABELS.get,
        key="f_version",
    )
    st.text_input("Redirect URL (redirect_url)", value=settings.landing_url, key="f_redirect_url")
    left, right = st.columns(2)
    left.text_input("Phone number to request (number)", key="f_number", placeholder="+49 151 23456789")
    right.text_input("Client email (email)", key="f_email")
    left.text_input("Client name (name)", key="f_name")
    right.text_input("Your reference for this client (partner)", key="f_partner")
    left.selectbox("Plan (plan_selection)", ["", "regular", "premium"], key="f_plan", format_func=lambda v: v or "—")
    right.selectbox("Language (lang)", ["", "en", "de", "pt"], key="f_lang", format_func=lambda v: v or "—")
    st.checkbox("Show the login for returning clients (next=login)", key="f_next_login")
    st.caption("Less common parameters, sent only when filled in:")
    left, right = st.columns(2)
    left.text_input("hosting_type", key="f_hosting_type")
    right.text_input("flow", key="f_flow")
    left.text_input("connect_client_user (account sharing)", key="f_connect_client_user")
    right.text_input("client_id (account sharing)", key="f_client_id")
    left.text_input("preverified_phone_number_id", key="f_preverified")
    if settings.io_signature_enabled:
        st.caption(
            "IO Signature is on: the link points at this console, which signs a fresh io_signature and "
            "io_timestamp at every click."
        )
    st.form_submit_button(
        "Create a new link with these parameters",
        type="primary",
        disabled=bool(may_not_hand_out),
        help=may_not_hand_out,
        on_click=link_from_form,
    )

if "connect_error" in st.session_state:
    st.error("The link cannot be built: " + escape_markdown(st.session_state["connect_error"]))


def phase(link: HandedOutLink) -> str:
    """open (hand it out), back (the client came back through it: show the result) or expired."""
    if redirect_for_state(db, link.state) is not None:
        return "back"
    row = get_link(db, link.state)
    return link_status(row) if row else "expired"


def link_caption(link: HandedOutLink, status: str) -> None:
    when = link.created_at[:16].replace("T", " ")
    note = f"Link created {when} UTC by {escape_markdown(link.operator)} · status: **{status}**"
    row = get_link(db, link.state)
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
        request = st.session_state.get("connect_request") or stored_request(get_link(db, link.state) or {})
        st.code(
            connect_button_snippet(
                settings.partner_id,
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
        close_link(db, link.state, actor=current_person())
    except LinkNotOpen as error:
        st.session_state["connect_error"] = str(error)


def close_button(link: HandedOutLink) -> None:
    st.button(
        "Close this link",
        on_click=close_current_link,
        args=(link,),
        key="close_link",
        disabled=bool(may_not_hand_out),
        help=may_not_hand_out or "The client can no longer start onboarding with it",
    )


def new_link_button(what_it_makes: str = "A new state bound to you", *, primary: bool = True) -> None:
    """The one "New link" button, disabled with the reason for a role that may not hand links out."""
    st.button(
        "New link",
        type="primary" if primary else "secondary",
        on_click=new_link,
        key="new_link",
        disabled=bool(may_not_hand_out),
        help=may_not_hand_out or what_it_makes,
    )


link = st.session_state.get("connect_link")
if link is None:
    st.info("No link yet. Each client gets a link of their own: make one when you are about to hand it out.")
    new_link_button()
else:
    current = phase(link)
    if current == "open":
        waiting_for_the_client(link)
        left, right = st.columns(2)
        with left:
            new_link_button("A new state and, with IO Signature, a new signature", primary=False)
        with right:
            close_button(link)
        hand_out(link)
    else:
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


def history_label(row: dict) -> str:
    # No status here: the choice keeps its words while the table beside it moves on.
    who = row["business"] or row["numbers"] or "no client named"
    return f"{row['created']} · {who} · by {row['operator']} · state {row['state'][:8]}…"


def reopen(state: str) -> None:
    """Show a link from the history again, as it was handed out: to copy, or to close."""
    row = get_link(db, state)
    if row is None:
        return
    st.session_state["connect_link"] = reopened_link(row)
    st.session_state["connect_request"] = stored_request(row)
    st.session_state.pop("connect_error", None)


@st.fragment(run_every=5)
def history() -> None:
    st.subheader("Links handed out")
    rows = link_history(db)
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


history()
