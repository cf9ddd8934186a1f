"""The Connect page's link parameters: the form, where links go, and handing out a new link from the form or for
the next client."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.context import get_db, require_settings
from dashboard.widgets import refused
from services.onboarding.io_link import InvalidLinkParameter, hub_base
from services.onboarding.links import LinkRequest, for_next_client, hand_out_link, sandbox_hub_url

ENVIRONMENT_LABELS = {"prod": "production", "staging": "staging", "rc": "rc", "local": "local", "sandbox": "sandbox"}
VERSION_LABELS = {"v1": "v1 classic (…/dashboard/app/{id}/permissions)", "v2": "v2 (app.360dialog.com/onboarding/{id})"}
# The form's fields that name one client: emptied once its link is handed out, so the next client starts clean.
CLIENT_FIELDS = ("f_number", "f_email", "f_name", "f_partner", "f_connect_client_user", "f_client_id", "f_preverified")


def may_not_hand_out() -> str | None:
    """Why this person's role may not hand links out (a link carries the partner's IO Signature); None when it
    may. The page says so once, in a caption at the top (refused_note)."""
    return refused("hand_out_link")


def environments() -> list[str]:
    """Demo mode offers every hub, the sandbox first; live mode builds links for the one hub the settings name."""
    settings = require_settings()
    return [env for env in ENVIRONMENT_LABELS if env != "sandbox" or settings.demo_mode or settings.hub_env == env]


def link_hub(env: str) -> str | None:
    """The .../dashboard/app address links for `env` are built on, when it is not one of 360dialog's own: in live
    mode D360_HUB_URL; the sandbox hub (SANDBOX_URL) when the sandbox is chosen and no D360_HUB_URL is given."""
    settings = require_settings()
    if settings.link_hub_url:
        return settings.link_hub_url
    return sandbox_hub_url(settings.sandbox_url) if env == "sandbox" else None


def hub_destination(env: str, version: str) -> str:
    """Where links go, as the page names it; the reason when the settings name no usable hub."""
    try:
        return hub_base(require_settings().partner_id, env=env, version=version, hub_url=link_hub(env))
    except InvalidLinkParameter as error:
        return f"nowhere: {error}"


def live_destination_caption() -> None:
    """In live mode, where links go and which setting says so."""
    settings = require_settings()
    if settings.demo_mode:
        return
    st.caption(
        f"Links go to `{hub_destination(settings.hub_env, settings.hub_version)}` "
        f"({'D360_HUB_URL' if settings.link_hub_url else ENVIRONMENT_LABELS[settings.hub_env] + ' hub'})."
    )


def make_link(request: LinkRequest) -> bool:
    """Hand out a new link; never reuse one: each has its own state and, when used, its own signature. False
    (the reason kept for the page) when it cannot be built."""
    settings = require_settings()
    try:
        link = hand_out_link(
            get_db(),
            request,
            partner_id=settings.partner_id,
            actor=context.current_person(),
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
    settings = require_settings()
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


def link_form() -> None:
    """Every IO link parameter, folded away: most links need none of them."""
    settings = require_settings()
    with st.expander("Link parameters", expanded=False), st.form("link_form", border=False):
        left, right = st.columns(2)
        if settings.demo_mode:
            offered = environments()
            left.selectbox(
                "Environment",
                offered,
                index=offered.index(settings.hub_env) if settings.hub_env in offered else 0,
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
        left.selectbox(
            "Plan (plan_selection)", ["", "regular", "premium"], key="f_plan", format_func=lambda v: v or "—"
        )
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
        reason = may_not_hand_out()
        st.form_submit_button(
            "Create a new link with these parameters",
            type="primary",
            disabled=bool(reason),
            help=reason,
            on_click=link_from_form,
        )
