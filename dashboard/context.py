"""What every page needs: settings, the database, the Partner API client, the key vault, the sandbox hub's client,
and the errors they raise. Pages reach them only through here (an import contract and tests/pages/test_thin_pages.py
check it), so how a connection or a client is made is decided once."""

from __future__ import annotations

import time

import streamlit as st
from sqlite_utils import Database

from dashboard.session_cookie import COOKIE_NAME
from services.accounts import (
    AdmissionPolicy,
    Person,
    Refusal,
    admit,
    cookie_secret,
    demo_person,
    resume_session,
    unsign_token,
)
from services.demo.hub_client import SandboxClient
from services.demo.hub_client import SandboxError as SandboxError
from services.keys.generation import recover_abandoned_attempts
from services.keys.health.checks import HealthConfig
from services.keys.readiness import ReadinessConfig
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi
from services.partner_api import PartnerApiError as PartnerApiError
from services.settings import Settings, SettingsError, load_settings
from services.store import DatabaseError as DatabaseError
from services.store import open_console_db

# Who is signed in lives under private keys (no page's widget or query parameter is named so; a test checks),
# and only as a password session's token or the time single sign-on was first seen: the Person is made afresh
# on every run from the cookie, the session table or st.user, never read back from what a page could write.
SESSION_TOKEN_KEY = "_console_session_token"  # noqa: S105 - a key's name, not a secret
SSO_FIRST_SEEN_KEY = "_console_sso_first_seen"
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


def open_own_db() -> Database:
    """A connection of its own, closed by the caller: for work beside the session's connection (an export built
    while the page refreshes, keys generated on worker threads, each opening its own)."""
    return open_console_db(require_settings().console_db_path)


@st.cache_resource
def get_partner_api() -> PartnerApi:
    return PartnerApi.from_settings(require_settings())


@st.cache_resource
def get_vault() -> KeyVault:
    return KeyVault(require_settings().encryption_key)


@st.cache_resource
def get_sandbox_client() -> SandboxClient:
    """The sandbox hub's client (demo mode): the demo controls and the demo's alert inbox, over HTTP."""
    return SandboxClient.from_settings(require_settings())


def get_health_config() -> HealthConfig:
    """How a key's health is asked on demand, as the key-health process asks it."""
    return HealthConfig.from_settings(require_settings())


def get_readiness_config() -> ReadinessConfig:
    """How a new key is made ready to use: where each number's messages go, with which headers."""
    return ReadinessConfig.from_settings(require_settings())


def session_token() -> str | None:
    """This browser's password session token: from a sign-in in this browser session (fresher than any cookie
    the browser still holds), or from the signed cookie."""
    token = st.session_state.get(SESSION_TOKEN_KEY)
    if isinstance(token, str):
        return token
    cookie = st.context.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    settings = require_settings()
    return unsign_token(cookie, cookie_secret(settings.encryption_key), settings.access.session_hours * 3600)


def _single_sign_on(settings: Settings) -> Person | Refusal | None:
    # .get: st.user has no is_logged_in when Streamlit itself found no [auth] (another secrets file).
    if not st.user.get("is_logged_in"):
        return None
    first_seen = st.session_state.setdefault(SSO_FIRST_SEEN_KEY, time.time())
    claims = st.user.to_dict()
    return admit(claims, AdmissionPolicy.from_settings(settings), time.time(), session_started=first_seen)


def signed_in() -> Person | Refusal | None:
    """Who this browser session is: a Person, a Refusal (single sign-on named someone the console does not let
    in, or whose sign-in expired), or None before any sign-in. Shows nothing."""
    settings = require_settings()
    if not settings.login_required:
        return demo_person()
    if settings.oidc_configured:
        return _single_sign_on(settings)
    token = session_token()
    return resume_session(get_db(), token) if token else None


def current_person() -> Person:
    """Who is acting: the signed-in person with their role, or the demo admin in demo mode. Pages pass it to
    every action's service function, which checks the role (services.accounts.require)."""
    person = signed_in()
    if not isinstance(person, Person):
        st.error("Sign in first.")
        st.stop()
        raise AssertionError("st.stop() returned")  # pragma: no cover - st.stop raises
    return person


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
