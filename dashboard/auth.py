"""The sign-in gate: outside demo mode nobody reaches a page without signing in, as a person with a role.

Single sign-on (Streamlit's st.login, any OIDC provider) when `[auth]` is configured in secrets: the token's
claims go through services.accounts.admit, which lets in only verified e-mails of the team
(CONSOLE_ALLOWED_EMAILS / CONSOLE_ALLOWED_DOMAINS) and sends an expired sign-in back to the provider.
Otherwise password accounts (`python -m services.accounts add`), each person their own, behind the throttle of
services/sign_in.py; a signed-in account gets a session cookie (dashboard/session_cookie.py), so a reload or a
deep link in a new tab stays signed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit.errors import StreamlitAuthError
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.context import (
    SESSION_TOKEN_KEY,
    get_db,
    require_settings,
    session_token,
    signed_in,
    source_address,
)
from dashboard.plain_text import escape_markdown
from dashboard.session_cookie import SIGN_OUT_PATH, issue_handoff, session_url
from services import audit
from services.accounts import (
    Person,
    Refusal,
    audit_fields,
    authenticate,
    cookie_secret,
    end_session,
    has_accounts,
    sign_token,
    start_session,
)
from services.settings import Settings
from services.sign_in import attempt_succeeded, reserve_attempt, wait_for_turn

MAX_ACCOUNT_NAME = 64
REQUESTED_KEY = "requested_before_sign_in"
# Which sign-in this browser session has audited already: a rerun must not audit it again.
AUDITED_KEY = "_console_sign_in_audited"
PENDING_REDIRECT_KEY = "_console_pending_redirect"
NOT_SIGNED_IN = "(not signed in)"
FIRST_ACCOUNT_COMMAND = "python -m services.accounts add NAME --role admin"
# What a page's url_path may be: the sign-in answers at such a path, never at anything a URL could smuggle in.
PAGE_PATH = re.compile(r"[a-z0-9_-]{1,40}")
STAKES = "The console can generate keys that send messages on clients' WhatsApp numbers."


def send_browser_to(path: str) -> None:
    """Navigate the browser to one of the console's own routes, as st.login and st.logout do."""
    context = get_script_run_ctx()
    if context is None:
        return
    message = ForwardMsg()
    message.auth_redirect.url = path
    context.enqueue(message)


def _no_accounts_yet(settings: Settings) -> None:
    st.warning(
        "No account exists yet. Whoever runs the console's server creates the first one there:\n\n"
        f"`{FIRST_ACCOUNT_COMMAND}`",
        icon=":material/person_add:",
    )
    if settings.password_hash:
        st.info("CONSOLE_PASSWORD_HASH is no longer used: each person signs in with their own account.")


def _start_browser_session(settings: Settings, person: Person) -> None:
    """A server-side session for the account, its cookie handed to the browser through the session route."""
    db = get_db()
    hours = settings.access.session_hours
    token = start_session(db, person, hours)
    st.session_state[SESSION_TOKEN_KEY] = token
    cookie = sign_token(token, cookie_secret(settings.encryption_key))
    code = issue_handoff(cookie, int(hours * 3600), secure=settings.public_url.startswith("https://"))
    # Sent on the next run: the rerun that follows the sign-in would drop a message still queued from this one.
    st.session_state[PENDING_REDIRECT_KEY] = session_url(code, requested_target())


def _password_gate(settings: Settings) -> None:
    st.title("Sign in")
    st.caption(STAKES)
    db = get_db()
    if not has_accounts(db):
        _no_accounts_yet(settings)
        return
    # Cleared on submit: a refused password does not linger in the page's widget state.
    with st.form("login", clear_on_submit=True):
        name = st.text_input("Account", max_chars=MAX_ACCOUNT_NAME).strip().lower()
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if not name or not password:
        st.error("Enter your account name and your password.")
        return
    source = source_address()
    reservation = reserve_attempt(db, source, name)
    if not reservation.allowed:
        st.error(
            f"Too many failed sign-ins for this account from here. "
            f"Try again in {max(1, round(reservation.wait_seconds))} s."
        )
        return
    # Many failed sign-ins from this address: each attempt waits its turn (services/sign_in.py).
    if reservation.wait_seconds > 0:
        with st.spinner("Many sign-ins from this address: waiting for its turn…", show_time=True):
            wait_for_turn(reservation)
    person = authenticate(db, name, password)
    if person is None:
        # The typed name is not recorded: people type passwords into name fields.
        detail = f"wrong account name or password from {source}"
        audit.record(db, operator=NOT_SIGNED_IN, action="login", outcome="refused", detail=detail)
        st.error("Wrong account name or password.")
        return
    attempt_succeeded(db, reservation)
    audit.record(db, **audit_fields(person), action="login", outcome="ok", detail=f"password account from {source}")
    _start_browser_session(settings, person)
    st.rerun()


def _oidc_gate(settings: Settings) -> None:
    st.title("Sign in")
    st.caption(STAKES)
    if st.button("Sign in with single sign-on", type="primary"):
        _login(settings)


def _login(settings: Settings) -> None:
    try:
        st.login(settings.oidc_provider)
    except StreamlitAuthError as error:
        # For example [auth] incomplete; Streamlit's message names the setting.
        st.error(f"Single sign-on is configured but cannot start: {error}")


def _audit_once(kind: str, **fields: str | None) -> None:
    """Audit this browser session's sign-in or refusal once, however many reruns show it."""
    if st.session_state.get(AUDITED_KEY) == kind:
        return
    st.session_state[AUDITED_KEY] = kind
    audit.record(get_db(), action="login", **fields)  # type: ignore[arg-type]


def _refusal_page(settings: Settings, refused: Refusal) -> None:
    _audit_once(
        f"refused:{refused.reason}",
        operator=refused.email or NOT_SIGNED_IN,
        outcome="refused",
        detail=f"{refused.reason}; from {source_address()}",
    )
    st.title("Sign in")
    if refused.sign_in_again:
        st.warning(f"Please sign in again: {escape_markdown(refused.reason)}.", icon=":material/schedule:")
        if st.button("Sign in again", type="primary"):
            _login(settings)
        return
    st.error("You cannot use this console.", icon=":material/block:")
    # The reason names what the token claimed: plain text, never Markdown (which links any address).
    st.text(f"Why: {refused.reason}.")
    st.caption("Ask the console's administrator to add your address, or sign in with your team's account.")
    if st.button("Sign out / use another account", type="primary"):
        st.logout()


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


def requested_target() -> str:
    """Where the browser asked to go before the sign-in, as a path of this console with its query."""
    requested = st.session_state.get(REQUESTED_KEY) or {"path": requested_page_path(), "query": {}}
    query = urlencode(requested["query"], doseq=True)
    return f"/{requested['path']}" + (f"?{query}" if query else "")


def signed_in_person() -> Person | None:
    """The signed-in person, or None for a visitor (or a refused one); audits a single sign-on once. Shows nothing."""
    pending = st.session_state.pop(PENDING_REDIRECT_KEY, None)
    if isinstance(pending, str):
        send_browser_to(pending)
    person = signed_in()
    if not isinstance(person, Person):
        return None
    if require_settings().oidc_configured:
        _audit_once("ok", **audit_fields(person), outcome="ok", detail=f"single sign-on from {source_address()}")
    return person


def current_operator() -> str | None:
    """The signed-in person's audit identity, or None for a visitor; shows nothing."""
    person = signed_in_person()
    return person.id if person else None


def require_person() -> Person:
    """The signed-in person. Outside demo mode, shows the sign-in (or why not) and stops the run until then."""
    person = signed_in()
    if isinstance(person, Person):
        return person
    settings = require_settings()
    _remember_request()
    if isinstance(person, Refusal):
        _refusal_page(settings, person)
    elif settings.oidc_configured:
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


def who_is_signed_in(person: Person) -> str:
    return f"{person.display_name} · {person.role}"


def sign_out_button(person: Person) -> None:
    """Who is signed in and in which role, and the way out (none in demo mode, which has no sign-in)."""
    settings = require_settings()
    label = "Acting as" if not settings.login_required else "Signed in as"
    st.sidebar.text(f"{label} {who_is_signed_in(person)}")
    if not settings.login_required or not st.sidebar.button("Sign out"):
        return
    audit.record(get_db(), **audit_fields(person), action="sign_out", outcome="ok", detail=f"from {source_address()}")
    st.session_state.pop(AUDITED_KEY, None)
    if settings.oidc_configured:
        st.logout()
        return
    token = session_token()
    if token:
        end_session(get_db(), token)
    st.session_state.pop(SESSION_TOKEN_KEY, None)
    st.session_state[PENDING_REDIRECT_KEY] = SIGN_OUT_PATH
    st.rerun()
