"""`/connect/<token>`: the link a client receives when IO Signature is on (served by dashboard/server.py).

A click signs a new IO Signature at that moment and answers a 303 to 360dialog's hub with the link's
parameters and `state` (services.onboarding.link_clicks). An unknown token, an expired or closed link or one
whose client is already back gets one neutral page that says nothing about any other link.

The console serves it, not the receiver: the console holds the Platform Secret and the links handed out,
and the receiver imports nothing from the operators' side.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlite_utils import Database
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from services.onboarding.link_clicks import BUSY, EXPIRED, FINISHED, LinkSigning, follow_link
from services.onboarding.links import CLOSED
from services.settings import Settings, SettingsError, load_settings
from services.store import open_console_db

CONNECT_ROUTE = "/connect/{token}"
# A signed hub link must not be kept by a cache, nor the console link passed on as a referrer.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

_REFUSAL_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0;color:#1d2b36}}
main{{max-width:460px;margin:40px auto;background:#fff;border-radius:12px;padding:28px 32px}}</style>
</head><body><main><h1>{title}</h1><p>{text}</p></main></body></html>"""

REFUSALS = {
    EXPIRED: (410, "This link has expired", "Ask the person who sent it to you for a new link."),
    FINISHED: (410, "This link has been used", "Your number is already connected through it. Nothing more to do."),
    CLOSED: (410, "This link is no longer valid", "Ask the person who sent it to you for a new link."),
    BUSY: (429, "Not available right now", "Please try again in a minute."),
}
NOT_FOUND = (404, "Link not found", "Check that the whole link was copied, or ask for a new one.")
UNAVAILABLE = (503, "Not available right now", "Please try again in a few minutes.")


def refusal_page(status: int, title: str, text: str) -> HTMLResponse:
    body = _REFUSAL_PAGE.format(title=html.escape(title), text=html.escape(text))
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


class LinkClicks:
    """Follows clicks with one database connection for the process (SQLite, WAL, shared across threads)."""

    def __init__(
        self,
        settings: Callable[[], Settings] = load_settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._loaded: Settings | None = None
        self._db: Database | None = None
        self._lock = threading.Lock()

    def _current_settings(self) -> Settings:
        # Read once: a process's settings do not change while it runs, and a click flood must cost little.
        if self._loaded is None:
            self._loaded = self._settings()
        return self._loaded

    def _database(self, settings: Settings) -> Database:
        if self._db is None:
            self._db = open_console_db(settings.console_db_path)
        return self._db

    def follow(self, request: Request) -> Response:
        """Runs in Starlette's thread pool (a plain function endpoint): signing and SQLite are blocking."""
        try:
            settings = self._current_settings()
        except SettingsError:
            return refusal_page(*UNAVAILABLE)
        signing = LinkSigning(
            settings.partner_id,
            settings.platform_secret if settings.io_signature_enabled else None,
            settings.io_signature_encoding,
        )
        now = datetime.fromtimestamp(self._clock(), UTC)
        with self._lock:
            click = follow_link(self._database(settings), request.path_params["token"], signing, now=now)
        if click.target is None:
            return refusal_page(*REFUSALS.get(click.refusal or "", NOT_FOUND))
        return RedirectResponse(click.target, status_code=303, headers=NO_STORE)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def link_routes(clicks: LinkClicks | None = None) -> list[Route]:
    return [Route(CONNECT_ROUTE, (clicks or LinkClicks()).follow, methods=["GET"])]
