"""The login gate: outside demo mode nobody reaches a page without signing in.

Streamlit's st.login (OIDC) when `[auth]` is configured in secrets, otherwise a shared password kept
only as a hash (CONSOLE_PASSWORD_HASH) plus the operator's name, which the audit log records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import streamlit as st
from streamlit.errors import StreamlitAuthError

from dashboard.context import OPERATOR_KEY, get_db, require_settings
from services import audit
from services.password_hash import InvalidPasswordHash, verify_password
from services.settings import Settings

MAX_OPERATOR_NAME = 64
REQUESTED_KEY = "requested_before_sign_in"
# Across all browser sessions: a burst of wrong passwords locks sign-in for a while.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 60.0
LOCKOUT_SECONDS = 30.0


@dataclass
class LoginThrottle:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seconds_locked(self) -> float:
        with self.lock:
            return max(0.0, self.locked_until - time.monotonic())

    def record_failure(self) -> None:
        now = time.monotonic()
        with self.lock:
            self.failures = [at for at in self.failures if now - at < FAILURE_WINDOW_SECONDS] + [now]
            if len(self.failures) >= MAX_FAILURES:
                self.locked_until = now + LOCKOUT_SECONDS
                self.failures = []

    def reset(self) -> None:
        with self.lock:
            self.failures = []
            self.locked_until = 0.0


@st.cache_resource
def login_throttle() -> LoginThrottle:
    return LoginThrottle()


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
    throttle = login_throttle()
    wait = throttle.seconds_locked()
    if wait > 0:
        st.error(f"Too many failed sign-ins. Try again in {wait:.0f} seconds.")
        return
    problem = operator_name_problem(name)
    if problem:
        st.error(problem)
        return
    if not _password_matches(settings, password):
        throttle.record_failure()
        # The typed name is not recorded: people type passwords into name fields.
        audit.record(get_db(), operator="(not signed in)", action="login", outcome="refused", detail="wrong password")
        st.error("Wrong password.")
        return
    throttle.reset()
    st.session_state[OPERATOR_KEY] = name
    audit.record(get_db(), operator=name, action="login", outcome="ok")
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


def _remember_request() -> None:
    """Note the page and query the browser asked for, so sign-in can return there (a redirect must not be lost)."""
    if REQUESTED_KEY in st.session_state:
        return
    path = urlsplit(st.context.url or "").path.rstrip("/").rsplit("/", 1)[-1]
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    st.session_state[REQUESTED_KEY] = {"path": path, "query": query}


def require_operator() -> str:
    """The signed-in operator's name. Outside demo mode, shows the sign-in and stops the run until then."""
    settings = require_settings()
    if not settings.login_required:
        return settings.operator
    if settings.oidc_configured:
        name = _oidc_operator()
        if name is None:
            _remember_request()
            _oidc_gate(settings)
            st.stop()
        st.session_state[OPERATOR_KEY] = name
        return name
    name = st.session_state.get(OPERATOR_KEY)
    if not name:
        _remember_request()
        _password_gate(settings)
        st.stop()
    return name


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
