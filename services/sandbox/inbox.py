"""The demo's alert inbox: where the console's alerts land in demo mode, so that a demo shows them without a
real Slack or mailbox. Not part of 360dialog.

`POST /sandbox/inbox` takes what apprise's JSON target sends (`{"title", "message", "type", ...}`), as the
console's default CONSOLE_ALERT_URLS in demo mode points there (`json://<hub>/sandbox/inbox`). The hub listens on
this machine only, so the inbox asks for no credentials; it keeps the newest INBOX_KEEP messages, each cut to a
bounded size. `GET /sandbox/admin/inbox` lists them, with the demo partner API key like every demo control.

Any web page open in a browser on this machine can reach loopback too, so the inbox takes only
`Content-Type: application/json` (a page may post text/plain or a form to another origin without asking; JSON
needs a CORS preflight, which the hub never grants) and refuses a request whose `Origin` is not the hub's own
(SANDBOX_URL). apprise, the one legitimate sender, sends JSON and no Origin.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.sandbox.hub import SandboxHub
from services.sandbox.partner_api import api_error, partner_endpoint
from services.settings import DEMO_ALERT_INBOX_PATH
from services.store import utc_now

INBOX_PATH = DEMO_ALERT_INBOX_PATH
ADMIN_INBOX_PATH = "/sandbox/admin/inbox"
INBOX_KEEP = 500
MAX_BODY_BYTES = 64 * 1024
MAX_TITLE = 500
MAX_MESSAGE = 8000
MAX_LIST = 500


def _text(value: Any, limit: int) -> str:
    return ("" if value is None or isinstance(value, (dict, list)) else str(value))[:limit]


def add_message(db: Database, document: dict[str, Any], keep: int = INBOX_KEEP) -> int:
    with db.atomic():
        message_id = db.execute(
            "insert into alert_inbox (received_at, title, message, type) values (?, ?, ?, ?)",
            [
                utc_now(),
                _text(document.get("title"), MAX_TITLE),
                _text(document.get("message"), MAX_MESSAGE),
                _text(document.get("type"), 20),
            ],
        ).lastrowid
        db.execute("delete from alert_inbox where id <= ?", [message_id - keep])
    return int(message_id)


def messages(db: Database, limit: int) -> list[dict[str, Any]]:
    return list(
        db.query("select id, received_at, title, message, type from alert_inbox order by id desc limit ?", [limit])
    )


def origin_of(url: str) -> str:
    """`scheme://host[:port]` as a browser writes it in an Origin header."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def sender_problem(headers: Any, own_origin: str) -> tuple[int, str] | None:
    """Why a post to the inbox is refused (status and message), or None: JSON only, from no origin or our own."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return 415, "An alert must be sent as Content-Type: application/json"
    origin = headers.get("origin")
    if origin is not None and origin.lower() != own_origin:
        return 403, "Alerts are not taken from other web pages"
    return None


def routes(hub: SandboxHub) -> list[Route]:
    own_origin = origin_of(hub.settings.sandbox_url)

    async def receive(request: Request) -> Response:
        problem = sender_problem(request.headers, own_origin)
        if problem is not None:
            return api_error(*problem)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return api_error(413, f"An alert may be at most {MAX_BODY_BYTES} bytes")
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return api_error(400, "The body must be a JSON object")
        if not isinstance(document, dict):
            return api_error(400, "The body must be a JSON object")
        message_id = await run_in_threadpool(hub.run, lambda db: add_message(db, document))
        return JSONResponse({"id": message_id})

    async def listed(request: Request) -> Response:
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), MAX_LIST)
        except ValueError:
            return api_error(400, "limit must be a whole number")
        rows = await run_in_threadpool(hub.run, lambda db: messages(db, limit))
        return JSONResponse({"messages": rows})

    return [
        Route(INBOX_PATH, receive, methods=["POST"]),
        Route(ADMIN_INBOX_PATH, partner_endpoint(hub, listed), methods=["GET"]),
    ]
