"""Channels and keys: every channel with its status; a key for those that are running."""

import streamlit as st

from dashboard.context import get_db, get_partner_api, get_vault, operator
from services.api_keys import KeyNotAllowed, generate_key, key_status
from services.channels import list_channels
from services.partner_api import PartnerApiError

st.title("Channels and keys")
db = get_db()

shown = st.session_state.pop("new_key", None)
if shown:
    st.success(f"New API key for channel {shown['channel_id']}. It is shown once: copy it now.")
    st.code(shown["api_key"], language=None)


@st.fragment(run_every=3)
def channel_list() -> None:
    channels = list_channels(db)
    if not channels:
        st.info("No channel yet. Hand a client an onboarding link from the Connect page.")
        return
    for channel in channels:
        with st.container(border=True):
            left, middle, right = st.columns([3, 2, 2])
            left.markdown(f"**{channel['id']}**")
            left.caption(f"client {channel['client_id'] or '?'} · {channel['phone_number'] or 'number not known yet'}")
            middle.write(f"status: {channel['status'] or 'unknown'}")
            middle.caption(f"key: {key_status(db, channel['id'])}")
            can_generate = channel["status"] == "running" and not channel["revoked"]
            if can_generate and right.button("Generate API key", key=f"generate-{channel['id']}"):
                try:
                    result = generate_key(db, get_partner_api(), get_vault(), channel["id"], operator=operator())
                except (KeyNotAllowed, PartnerApiError) as error:
                    right.error(str(error))
                else:
                    st.session_state["new_key"] = {"channel_id": result.channel_id, "api_key": result.api_key}
                    st.rerun()


channel_list()
