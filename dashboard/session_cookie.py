"""The password session's cookie, set and cleared by the console's own routes (served by dashboard/server.py).

A Streamlit page cannot set a cookie: its answers travel over a websocket. So after a password sign-in the page
hands the signed cookie value to `issue_handoff`, which keeps it in this process for a few seconds under a
one-time random code, and sends the browser to `/console/session?code=...&next=...`. That route exchanges the
code for the cookie (HttpOnly, SameSite=Lax, Secure behind https, as long-lived as the session) and redirects to
`next`, a path of this console only. Lax, not Strict: a deep link from an alert, opened from a mail client, is
a top-level GET from another site, and must arrive signed in. `/console/sign-out` clears the cookie; the page
ends the session on the server before sending the browser there.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

COOKIE_NAME = "console_session"
SESSION_PATH = "/console/session"
SIGN_OUT_PATH = "/console/sign-out"
# Long enough for a browser to follow a redirect, short enough that a code in a log is worth nothing.
HANDOFF_SECONDS = 30.0
CODE_BYTES = 32


@dataclass(frozen=True)
class Handoff:
    cookie_value: str
    max_age_seconds: int
    secure: bool
    expires_at: float


_handoffs: dict[str, Handoff] = {}
_lock = threading.Lock()


def issue_handoff(cookie_value: str, max_age_seconds: int, *, secure: bool) -> str:
    """A one-time code the session route exchanges for the cookie, within HANDOFF_SECONDS."""
    code = secrets.token_urlsafe(CODE_BYTES)
    now = time.monotonic()
    with _lock:
        for stale in [key for key, handoff in _handoffs.items() if handoff.expires_at <= now]:
            del _handoffs[stale]
        _handoffs[code] = Handoff(cookie_value, max_age_seconds, secure, now + HANDOFF_SECONDS)
    return code


def redeem_handoff(code: str) -> Handoff | None:
    """The handoff under this code, once; None for an unknown, used or expired code."""
    with _lock:
        handoff = _handoffs.pop(code, None)
    if handoff is None or handoff.expires_at <= time.monotonic():
        return None
    return handoff


def safe_next(target: str | None) -> str:
    """`target` when it is a path of this console; "/" for anything that could leave it (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(character) < 0x20 for character in target):
        return "/"
    return target


def session_url(code: str, next_path: str) -> str:
    return f"{SESSION_PATH}?{urlencode({'code': code, 'next': safe_next(next_path)})}"


def _set_session(request: Request) -> Response:
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    handoff = redeem_handoff(request.query_params.get("code", ""))
    if handoff is not None:
        response.set_cookie(
            COOKIE_NAME,
            handoff.cookie_value,
            max_age=handoff.max_age_seconds,
            path="/",
            secure=handoff.secure,
            httponly=True,
            samesite="lax",
        )
    return response


def _sign_out(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


def session_routes() -> list[Route]:
    return [Route(SESSION_PATH, _set_session, methods=["GET"]), Route(SIGN_OUT_PATH, _sign_out, methods=["GET"])]
