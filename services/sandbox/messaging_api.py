"""The sandbox hub's Messaging API (contract section 6), served at the `address` each key answer names:
a key's health and the number's messaging webhook, behind `D360-API-KEY` (401 once a newer key revoked it, the
partner's or one the client generated in its own hub)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.sandbox import state
from services.sandbox.hub import SandboxHub
from services.sandbox.partner_api import api_error

KeyedHandler = Callable[[Request, dict[str, Any]], Awaitable[Response]]
# 360dialog's error page records this body for an invalid key (camelCase, unlike the Partner API's errors; the page
# writes httpCode 404 in it, the status is 401): tests/fixtures/360dialog/error_answers.json.
INVALID_KEY_MESSAGE = "Invalid api_key or token expired"


def invalid_key() -> JSONResponse:
    body = {"meta": {"httpCode": 401, "developerMessage": INVALID_KEY_MESSAGE, "success": False}}
    return JSONResponse(body, status_code=401)


def _health(channel: dict[str, Any]) -> dict[str, Any]:
    # Meta limits a number whose quality fell to RED; everything else in the sandbox can send.
    phone = "LIMITED" if (channel.get("current_quality_rating") or "").upper() == "RED" else "AVAILABLE"
    entities = [
        {"entity_type": "PHONE_NUMBER", "id": f"{channel['id']}PN", "can_send_message": phone},
        {"entity_type": "WABA", "id": f"{channel['client_id']}WA", "can_send_message": "AVAILABLE"},
        {"entity_type": "BUSINESS", "id": f"{channel['client_id']}BU", "can_send_message": "AVAILABLE"},
        {"entity_type": "APP", "id": channel["app_id"], "can_send_message": "AVAILABLE"},
    ]
    return {"health_status": {"can_send_message": phone, "entities": entities}}


def _webhook_body(document: Any) -> tuple[str, dict[str, str]] | str:
    """The (url, headers) of a webhook POST, or what is wrong with it."""
    if not isinstance(document, dict) or not isinstance(document.get("url"), str):
        return 'The body must be {"url": "https://...", "headers": {...}}'
    parts = urlsplit(document["url"])
    if parts.scheme != "https" or not parts.hostname:
        return "The webhook url must be https"
    if "_" in parts.hostname or parts.port is not None:
        return "The webhook host may hold no '_' and no port"
    headers = document.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return "headers must be an object of text values"
    return document["url"], headers


def routes(hub: SandboxHub) -> list[Route]:
    def keyed(handler: KeyedHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            api_key = request.headers.get("d360-api-key", "")
            channel = (
                await run_in_threadpool(hub.run, lambda db: state.channel_for_key(db, api_key)) if api_key else None
            )
            if channel is None:
                return invalid_key()
            return await handler(request, channel)

        return endpoint

    async def health_status(request: Request, channel: dict[str, Any]) -> Response:
        return JSONResponse(_health(channel))

    async def configs_webhook(request: Request, channel: dict[str, Any]) -> Response:
        if request.method == "POST":
            try:
                body = _webhook_body(json.loads(await request.body()))
            except ValueError:
                body = "The body is not JSON"
            if isinstance(body, str):
                return api_error(400, body)
            url, headers = body
            await run_in_threadpool(hub.run, lambda db: state.set_messaging_webhook(db, channel["id"], url, headers))
            return JSONResponse({"url": url})
        if (await run_in_threadpool(hub.switches))["webhook_read_missing"]:
            return JSONResponse({"error": "Not Found"}, status_code=404)
        return JSONResponse(await run_in_threadpool(hub.run, lambda db: state.messaging_webhook(db, channel["id"])))

    async def multi_webhook(request: Request, channel: dict[str, Any]) -> Response:
        return JSONResponse(await run_in_threadpool(hub.run, lambda db: state.messaging_webhook(db, channel["id"])))

    return [
        Route("/health_status", keyed(health_status), methods=["GET"]),
        Route("/v1/configs/webhook", keyed(configs_webhook), methods=["GET", "POST"]),
        Route("/multi_webhook", keyed(multi_webhook), methods=["GET"]),
    ]
