"""Redirect landing: where 360dialog sends the browser back when onboarding ends."""

import json
from urllib.parse import urlencode

import streamlit as st

from dashboard.context import get_db
from services.onboardings import save_raw_redirect, save_redirect
from services.redirect import InvalidRedirect, parse_redirect

st.title("Onboarding result")
db = get_db()

params = {key: st.query_params.get_all(key) for key in st.query_params}
if params:
    raw_query = urlencode(params, doseq=True, safe="[],")
    # Stored before anything else: a crash or a closed tab after this line loses nothing.
    redirect_id = save_raw_redirect(db, raw_query)
    try:
        redirect = parse_redirect(params)
    except InvalidRedirect as error:
        st.session_state["landing"] = {"error": str(error)}
    else:
        stored = save_redirect(db, raw_query, redirect)
        st.session_state["landing"] = {"id": stored.id}
    st.query_params.clear()

result = st.session_state.get("landing")
if result is None:
    st.info("Nothing has landed here yet. When a client finishes onboarding, 360dialog sends them back to this page.")
elif "error" in result:
    st.error(f"This redirect cannot be used: {result['error']}")
else:
    row = db["redirects"].get(result["id"])
    st.success("Onboarding finished. The client's numbers are below.")
    st.metric("Client", row["client_id"])
    channels = json.loads(row["channels"] or "[]")
    revoked = json.loads(row["revoked"] or "[]")
    st.subheader("Channels granted")
    st.dataframe([{"channel": channel} for channel in channels], hide_index=True)
    if revoked:
        st.warning("The client withdrew permission for: " + ", ".join(revoked))
    st.page_link("pages/channels.py", label="Go to channels and keys", icon="📱")
