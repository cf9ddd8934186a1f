"""What every page needs: settings, the database, the Partner API client, the key vault."""

from __future__ import annotations

import streamlit as st
from sqlite_utils import Database

from services.accounts import ADMIN, Person, SignInMethod, demo_person
from services.keys.generation import recover_abandoned_attempts
from services.keys.readiness import ReadinessConfig
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi
from services.settings import Settings, SettingsError, load_settings
from services.store import open_console_db

OPERATOR_KEY = "operator"
# The one page a visitor who has not signed in may open: where clients come back from 360dialog.
LANDING_PATH = "landing"
# The source of a browser on this machine, or behind a proxy on it that the settings do not trust.
LOOPBACK_SOURCE = "127.0.0.1"


@st.cache_resource
def _settings() -> Settings:
    return load_settings()


def require_settings() -> Settings:
    """The settings, or a clear message naming the wrong setting and a stopped page."""
    try:
        return _settings()
    except SettingsError as error:
        st.error(f"The console cannot start: {error}")
        st.stop()
        raise  # st.stop() raises; this keeps type checkers content


def get_db() -> Database:
    """One connection per browser session: SQLite transactions must not interleave across sessions."""
    if "db" not in st.session_state:
        db = open_console_db(require_settings().console_db_path)
        # A console that was killed mid-generation left 'pending' attempts: show them as 'check key state'.
        recover_abandoned_attempts(db)
        st.session_state["db"] = db
    return st.session_state["db"]


@st.cache_resource
def get_partner_api() -> PartnerApi:
    return PartnerApi.from_settings(require_settings())


@st.cache_resource
def get_vault() -> KeyVault:
    return KeyVault(require_settings().encryption_key)


def get_readiness_config() -> ReadinessConfig:
    """How a new key is made ready to use: where each number's messages go, with which headers."""
    return ReadinessConfig.from_settings(require_settings())


def operator() -> str:
    """Who is acting: the signed-in operator (set by the login gate), or CONSOLE_OPERATOR in demo mode."""
    settings = require_settings()
    if not settings.login_required:
        return settings.operator
    name = st.session_state.get(OPERATOR_KEY)
    if not name:
        st.error("Sign in first.")
        st.stop()
    return name


def current_person() -> Person:
    """Who is acting: the signed-in person with their role, or the demo admin in demo mode. Pages pass it to
    every action's service function, which checks the role (services.accounts.require)."""
    settings = require_settings()
    if not settings.login_required:
        return demo_person()
    name = st.session_state.get(OPERATOR_KEY)
    if not name:
        st.error("Sign in first.")
        st.stop()
    # The shared password admits everyone as an admin until each person signs in with their own account.
    return Person(id=name, display_name=name, role=ADMIN, method=SignInMethod.PASSWORD)


def source_address() -> str:
    """Where this browser session's requests come from, as the sign-in throttle and the landing's limits count
    it: always an IP address. The console's edge (dashboard/edge.py) made it the socket's peer, or the last hop
    of X-Forwarded-For when the peer is one of CONSOLE_TRUSTED_PROXIES, and removed the header."""
    if st.context.headers.get("X-Forwarded-For") is not None:
        # The header is still here, so the edge is not (`streamlit run dashboard/app.py`): Streamlit's uvicorn
        # then takes a loopback peer's header as the address, so the only address known for sure is loopback.
        return LOOPBACK_SOURCE
    address = st.context.ip_address
    # Streamlit says None for loopback; anything but text (a test harness's stand-in) is this machine too.
    return address if isinstance(address, str) and address else LOOPBACK_SOURCE
