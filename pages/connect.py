"""Connect: hand a client an IO link."""

import secrets

import streamlit as st

from dashboard.context import get_db, operator, require_settings
from services.io_link import build_io_link
from services.io_signature import sign_io
from services.onboardings import save_link

settings = require_settings()
st.title("Connect a WhatsApp number")
st.caption(f"Partner id: `{settings.partner_id}` · hub: {settings.hub_env}")


def new_link() -> dict:
    state = secrets.token_urlsafe(16)
    params: dict[str, str | int] = {"redirect_url": settings.landing_url, "state": state}
    timestamp = None
    if settings.io_signature_enabled:
        signature = sign_io(settings.partner_id, settings.platform_secret, encoding=settings.io_signature_encoding)
        params.update(io_signature=signature.signature, io_timestamp=signature.timestamp)
        timestamp = signature.timestamp
    hub_url = settings.hub_url if settings.hub_env == "sandbox" else None
    url = build_io_link(
        settings.partner_id,
        env=settings.hub_env if hub_url is None else "prod",
        version=settings.hub_version,
        hub_url=hub_url,
        **params,
    )
    save_link(
        get_db(),
        state=state,
        operator=operator(),
        url=url,
        params={"redirect_url": settings.landing_url},
        io_timestamp=timestamp,
    )
    return {"state": state, "url": url}


if "io_link" not in st.session_state or st.button("New link"):
    st.session_state["io_link"] = new_link()
link = st.session_state["io_link"]
st.link_button("Open onboarding", link["url"], type="primary")
st.code(link["url"], language=None)
