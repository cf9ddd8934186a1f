"""The sandbox hub's Partner API (contract section 4): the endpoints, both auth styles and 360dialog's errors."""

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

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
Handler = Callable[[Request], Awaitable[Response]]


def api_error(status: int, message: str, details: list[Any] | None = None) -> JSONResponse:
    """Errors in 360dialog's shape (contract section 4)."""
    return JSONResponse(
        {"meta": {"success": False, "http_code": status, "developer_message": message, "details": details or []}},
        status_code=status,
    )


class ApiProblem(Exception):
    """Ends a request with a 360dialog-shaped error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _authenticated(hub: SandboxHub, request: Request) -> bool:
    api_key = request.headers.get("x-api-key")
    if api_key is not None:
        return hub.api_key_matches(api_key)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hub.bearer_is_valid(token.strip())


def partner_endpoint(hub: SandboxHub, handler: Callable[[Request], Awaitable[Response]]) -> Handler:
    """Checks credentials and the partner id, and turns problems into 360dialog errors."""

    async def endpoint(request: Request) -> Response:
        if not await run_in_threadpool(_authenticated, hub, request):
            return api_error(401, "Invalid, expired or missing credentials")
        if request.path_params.get("partner_id", hub.settings.partner_id) != hub.settings.partner_id:
            return api_error(403, "Forbidden: this partner id does not belong to the credentials")
        try:
            return await handler(request)
        except ApiProblem as problem:
            return api_error(problem.status, problem.message)
        except state.NotFound as missing:
            return api_error(404, str(missing))
        except state.BadQuery as bad:
            return api_error(400, str(bad))

    return endpoint


def _page(
    key: str, rows: list, total: int, *, filters: dict, sort: str | None, limit: int, offset: int
) -> JSONResponse:
    """A list answer in the Partner API's paging envelope (contract section 4)."""
    return JSONResponse(
        {
            "count": len(rows),
            "total": total,
            "limit": limit,
            "offset": offset,
            "filters": filters,
            "sort": sort,
            key: rows,
        }
    )


def _paging(request: Request) -> tuple[dict[str, Any], str | None, int, int]:
    params = request.query_params
    try:
        limit = int(params.get("limit", DEFAULT_PAGE_SIZE))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise ApiProblem(400, "limit and offset must be whole numbers") from None
    if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
        raise ApiProblem(400, f"limit must be 1 to {MAX_PAGE_SIZE} and offset 0 or more")
    try:
        filters = json.loads(params.get("filters") or "{}")
    except json.JSONDecodeError:
        raise ApiProblem(400, 'filters must be a JSON object, e.g. {"status":"running"}') from None
    if not isinstance(filters, dict):
        raise ApiProblem(400, 'filters must be a JSON object, e.g. {"status":"running"}')
    return filters, params.get("sort") or None, limit, offset


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        document = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiProblem(400, "The body must be a JSON object") from None
    if not isinstance(document, dict):
        raise ApiProblem(400, "The body must be a JSON object")
    return document


def _url_field(document: dict[str, Any], name: str) -> str:
    value = document[name]
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc:
        raise ApiProblem(400, f"{name} must be an http(s) URL")
    return value


def routes(hub: SandboxHub) -> list[Route]:
    settings = hub.settings

    async def token(request: Request) -> Response:
        try:
            document = await _json_object(request)
        except ApiProblem as problem:
            return api_error(problem.status, problem.message)
        username, password = document.get("username"), document.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return api_error(400, "username and password are required strings")
        if not hub.login_matches(username, password):
            return api_error(401, "Wrong username or password")
        lifetime = settings.sandbox_token_lifetime_seconds
        access_token = await run_in_threadpool(hub.run, lambda db: state.issue_token(db, lifetime))
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": int(lifetime)})

    async def list_channels(request: Request) -> Response:
        filters, sort, limit, offset = _paging(request)
        rows, total = await run_in_threadpool(
            hub.run, lambda db: state.list_channels(db, filters=filters, sort=sort, limit=limit, offset=offset)
        )
        return _page("partner_channels", rows, total, filters=filters, sort=sort, limit=limit, offset=offset)

    async def list_clients(request: Request) -> Response:
        filters, sort, limit, offset = _paging(request)
        rows, total = await run_in_threadpool(
            hub.run, lambda db: state.list_clients(db, filters=filters, sort=sort, limit=limit, offset=offset)
        )
        return _page("clients", rows, total, filters=filters, sort=sort, limit=limit, offset=offset)

    async def update_client(request: Request) -> Response:
        document = await _json_object(request)
        unknown = set(document) - state.CLIENT_EDITABLE_FIELDS
        if not document or unknown:
            raise ApiProblem(400, f"Only {', '.join(sorted(state.CLIENT_EDITABLE_FIELDS))} can be changed on a client")
        if any(value is not None and not isinstance(value, str) for value in document.values()):
            raise ApiProblem(400, "Client fields must be strings")
        client_id = request.path_params["client_id"]
        client = await run_in_threadpool(hub.run, lambda db: state.update_client(db, client_id, document))
        return JSONResponse(client)

    async def shared_numbers(request: Request) -> Response:
        client_id = request.path_params["client_id"]
        numbers = await run_in_threadpool(hub.run, lambda db: state.shared_client_numbers(db, client_id))
        return JSONResponse({"count": len(numbers), "shared_client_numbers": numbers})

    async def generate_key(request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        channel = await run_in_threadpool(hub.run, lambda db: state.get_channel_row(db, channel_id))
        if channel["status"] != "running":
            raise ApiProblem(400, f"Channel {channel_id} is not running yet (status: {channel['status']})")
        if settings.sandbox_direct_paid and not channel["permission_granted"]:
            raise ApiProblem(403, "The client has not granted permission to generate keys for this number")
        key_id, api_key, app_id = await run_in_threadpool(hub.run, lambda db: state.issue_key(db, channel_id))
        return JSONResponse(
            {"id": key_id, "address": settings.sandbox_url, "api_key": api_key, "app_id": app_id}, status_code=201
        )

    async def update_partner(request: Request) -> Response:
        document = await _json_object(request)
        allowed = {"webhook_url", "partner_redirect_url"}
        if not document or set(document) - allowed:
            raise ApiProblem(400, "Only webhook_url and partner_redirect_url can be changed on a partner")
        changes = {name: _url_field(document, name) for name in document}
        partner = await run_in_threadpool(hub.run, lambda db: state.update_partner(db, settings.partner_id, changes))
        return JSONResponse(partner)

    async def webhook_url(request: Request) -> Response:
        if request.method == "POST":
            document = await _json_object(request)
            if set(document) != {"webhook_url"}:
                raise ApiProblem(400, 'The body must be {"webhook_url": "https://..."}')
            changes = {"webhook_url": _url_field(document, "webhook_url")}
            partner = await run_in_threadpool(
                hub.run, lambda db: state.update_partner(db, settings.partner_id, changes)
            )
        else:
            partner = await run_in_threadpool(hub.run, lambda db: state.partner_settings(db, settings.partner_id))
        return JSONResponse({"webhook_url": partner["webhook_url"]})

    def guarded(handler: Handler) -> Handler:
        return partner_endpoint(hub, handler)

    base = "/api/v2/partners/{partner_id}"
    return [
        Route("/api/v2/token", token, methods=["POST"]),
        Route(f"{base}/channels", guarded(list_channels), methods=["GET"]),
        Route(f"{base}/channels/{{channel_id}}/api_keys", guarded(generate_key), methods=["POST"]),
        Route(f"{base}/clients", guarded(list_clients), methods=["GET"]),
        Route(f"{base}/clients/{{client_id}}", guarded(update_client), methods=["PATCH"]),
        Route(f"{base}/clients/{{client_id}}/shared_client_numbers", guarded(shared_numbers), methods=["GET"]),
        Route(f"{base}/webhook_url", guarded(webhook_url), methods=["GET", "POST"]),
        Route(base, guarded(update_partner), methods=["PATCH"]),
    ]
