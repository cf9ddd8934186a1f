"""The login gate: outside demo mode nobody reaches a page without signing in.

Streamlit's st.login (OIDC) when `[auth]` is configured in secrets, otherwise a shared password kept
only as a hash (CONSOLE_PASSWORD_HASH) plus the operator's name, which the audit log records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import streamlit as st
from streamlit.errors import StreamlitAuthError

from dashboard.context import OPERATOR_KEY, get_db, require_settings, source_address
from services import audit
from services.password_hash import InvalidPasswordHash, verify_password
from services.settings import Settings
from services.sign_in import attempt_succeeded, reserve_attempt, wait_for_turn

MAX_OPERATOR_NAME = 64
REQUESTED_KEY = "requested_before_sign_in"
# What a page's url_path may be: the sign-in answers at such a path, never at anything a URL could smuggle in.
PAGE_PATH = re.compile(r"[a-z0-9_-]{1,40}")


def operator_name_problem(name: str) -> str | None:
    if not name:
        return "Enter your name: it is recorded with everything you do."
    if len(name) > MAX_OPERATOR_NAME or not name.isprintable():
        return f"The name must be printable and at most {MAX_OPERATOR_NAME} characters."
    return None


def _password_matches(settings: Settings, password: str) -> bool:
    if not settings.password_hash:
        return False
    try:
        return verify_password(password, settings.password_hash)
    except InvalidPasswordHash:
        return False


def _password_gate(settings: Settings) -> None:
    st.title("Sign in")
    st.caption("The console can generate keys that send messages on clients' WhatsApp numbers.")
    # Cleared on submit: a refused password does not linger in the page's widget state.
    with st.form("login", clear_on_submit=True):
        name = st.text_input("Your name", max_chars=MAX_OPERATOR_NAME).strip()
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    problem = operator_name_problem(name)
    if problem:
        st.error(problem)
        return
    db = get_db()
    source = source_address()
    reservation = reserve_attempt(db, source, name)
    if not reservation.allowed:
        st.error(
            f"Too many failed sign-ins for this name from here. "
            f"Try again in {max(1, round(reservation.wait_seconds))} s."
        )
        return
    # Many failed sign-ins from this address: each attempt waits its turn (services/sign_in.py).
    if reservation.wait_seconds > 0:
        with st.spinner("Many sign-ins from this address: waiting for its turn…", show_time=True):
            wait_for_turn(reservation)
    if not _password_matches(settings, password):
        # The typed name is not recorded: people type passwords into name fields.
        audit.record(
            db, operator="(not signed in)", action="login", outcome="refused", detail=f"wrong password from {source}"
        )
        st.error("Wrong password.")
        return
    attempt_succeeded(db, reservation)
    st.session_state[OPERATOR_KEY] = name
    audit.record(db, operator=name, action="login", outcome="ok", detail=f"from {source}")
    st.rerun()


def _oidc_gate(settings: Settings) -> None:
    st.title("Sign in")
    st.caption("The console can generate keys that send messages on clients' WhatsApp numbers.")
    if st.button("Sign in with single sign-on", type="primary"):
        try:
            st.login(settings.oidc_provider)
        except StreamlitAuthError as error:
            # For example Authlib missing or [auth] incomplete; Streamlit's message names the setting.
            st.error(f"Single sign-on is configured but cannot start: {error}")


def _oidc_operator() -> str | None:
    # .get: st.user has no is_logged_in when Streamlit itself found no [auth] (another secrets file).
    if not st.user.get("is_logged_in"):
        return None
    for claim in ("email", "preferred_username", "name", "sub"):
        value = st.user.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_OPERATOR_NAME]
    return "single sign-on user"


def requested_page_path() -> str:
    """The page path the browser asked for ('' for the root), when it could be one; '' for anything else."""
    if REQUESTED_KEY in st.session_state:
        return st.session_state[REQUESTED_KEY]["path"]
    path = urlsplit(st.context.url or "").path.rstrip("/").rsplit("/", 1)[-1]
    return path if PAGE_PATH.fullmatch(path) else ""


def _remember_request() -> None:
    """Note the page and query the browser asked for, so sign-in can return there (a redirect must not be lost)."""
    if REQUESTED_KEY in st.session_state:
        return
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    st.session_state[REQUESTED_KEY] = {"path": requested_page_path(), "query": query}


def current_operator() -> str | None:
    """The signed-in operator's name, or None for a visitor who has not signed in; shows nothing."""
    settings = require_settings()
    if not settings.login_required:
        return settings.operator
    if settings.oidc_configured:
        name = _oidc_operator()
        if name is not None:
            st.session_state[OPERATOR_KEY] = name
        return name
    return st.session_state.get(OPERATOR_KEY) or None


def require_operator() -> str:
    """The signed-in operator's name. Outside demo mode, shows the sign-in and stops the run until then."""
    name = current_operator()
    if name is not None:
        return name
    settings = require_settings()
    _remember_request()
    if settings.oidc_configured:
        _oidc_gate(settings)
    else:
        _password_gate(settings)
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover - st.stop raises


def resume_requested_page(pages: Sequence[st.Page], current: st.Page) -> None:
    """Right after sign-in, go to the page the browser asked for before the gate, with its query."""
    requested = st.session_state.pop(REQUESTED_KEY, None)
    if not requested or requested["path"] == current.url_path:
        return
    for page in pages:
        if page.url_path == requested["path"]:
            st.switch_page(page, query_params=requested["query"])


def sign_out_button() -> None:
    settings = require_settings()
    if not settings.login_required:
        return
    st.sidebar.text(f"Signed in as {st.session_state.get(OPERATOR_KEY, '?')}")
    if st.sidebar.button("Sign out"):
        st.session_state.pop(OPERATOR_KEY, None)
        if settings.oidc_configured:
            st.logout()
        st.rerun()
