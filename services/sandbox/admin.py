"""Demo controls of the sandbox hub: what Meta, a client or 360dialog would do, on request.

Not part of 360dialog's API. Authenticated with the demo partner API key (`X-API-Key`), like the Partner API.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.sandbox import outbox, state
from services.sandbox.hub import SandboxHub
from services.sandbox.partner_api import ApiProblem, Handler, partner_endpoint
from services.sandbox.scenario import seed_sandbox
from services.whatsapp import MESSAGING_LIMITS, PHONE_PATTERN, PORTFOLIO_LIMITS, QUALITY_RATINGS, TEMPLATE_STATUSES

ADMIN_PREFIX = "/sandbox/admin"
MAX_OUTBOX_LIST = 1000


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiProblem(400, "The body must be a JSON object") from None
    if not isinstance(document, dict):
        raise ApiProblem(400, "The body must be a JSON object")
    return document


def _choice(document: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = document.get(name)
    if value not in choices:
        raise ApiProblem(400, f"{name} must be one of {', '.join(choices)}")
    return value


def routes(hub: SandboxHub) -> list[Route]:
    settings = hub.settings

    async def quality(request: Request) -> Response:
        document = await _body(request)
        rating = _choice(document, "quality", QUALITY_RATINGS)
        limit = _choice(document, "limit", MESSAGING_LIMITS)
        channel_id = request.path_params["channel_id"]
        outbox_id = await run_in_threadpool(
            hub.run, lambda db: outbox.change_quality(db, channel_id, quality=rating, limit=limit)
        )
        return JSONResponse({"outbox_id": outbox_id})

    def account_alert(event: str) -> Handler:
        async def handler(request: Request) -> Response:
            channel_id = request.path_params["channel_id"]
            sent = await run_in_threadpool(hub.run, lambda db: outbox.account_alert(db, channel_id, event))
            return JSONResponse(sent)

        return handler

    async def template(request: Request) -> Response:
        status = _choice(await _body(request), "status", TEMPLATE_STATUSES)
        channel_id = request.path_params["channel_id"]
        sent = await run_in_threadpool(hub.run, lambda db: outbox.template_status_change(db, channel_id, status))
        return JSONResponse(sent)

    async def cancellation(request: Request) -> Response:
        step = _choice(await _body(request), "step", tuple(outbox.CANCELLATION_STEPS))
        channel_id = request.path_params["channel_id"]
        sent = await run_in_threadpool(hub.run, lambda db: outbox.cancellation(db, channel_id, step))
        return JSONResponse(sent)

    async def portfolio_limit(request: Request) -> Response:
        limit = _choice(await _body(request), "limit", PORTFOLIO_LIMITS + MESSAGING_LIMITS)
        client_id = request.path_params["client_id"]
        sent = await run_in_threadpool(hub.run, lambda db: outbox.change_portfolio_limit(db, client_id, limit))
        return JSONResponse(sent)

    async def revoke(request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        query = await run_in_threadpool(hub.run, lambda db: outbox.revoke_permission(db, channel_id))
        return JSONResponse({"redirect_query": query})

    async def regenerate_key(request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        return JSONResponse(await run_in_threadpool(hub.run, lambda db: outbox.regenerate_key(db, channel_id)))

    async def grant(request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        await run_in_threadpool(hub.run, lambda db: outbox.grant_permission(db, channel_id))
        return JSONResponse({"granted": channel_id})

    async def onboard(request: Request) -> Response:
        document = await _body(request)
        name = document.get("name")
        numbers = document.get("numbers")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ApiProblem(400, "name must be a business name of 1 to 100 characters")
        if (
            not isinstance(numbers, list)
            or not 1 <= len(numbers) <= 20
            or not all(isinstance(n, str) and PHONE_PATTERN.match(n) for n in numbers)
        ):
            raise ApiProblem(400, "numbers must be a list of 1 to 20 phone numbers")
        never_running = bool(document.get("never_running", False))
        client_id, channel_ids = await run_in_threadpool(
            hub.run,
            lambda db: outbox.create_client_with_channels(
                db,
                name=name.strip(),
                numbers=numbers,
                partner_payload=None,
                running_after=settings.sandbox_running_delay_seconds,
                never_running=never_running,
            ),
        )
        return JSONResponse(
            {
                "client_id": client_id,
                "channel_ids": channel_ids,
                "redirect_query": outbox.redirect_query(client_id, channel_ids),
            },
            status_code=201,
        )

    async def list_outbox(request: Request) -> Response:
        try:
            limit = min(max(int(request.query_params.get("limit", 200)), 1), MAX_OUTBOX_LIST)
        except ValueError:
            raise ApiProblem(400, "limit must be a whole number") from None
        rows = await run_in_threadpool(hub.run, lambda db: outbox.recent_outbox(db, limit))
        return JSONResponse({"events": rows})

    async def resend(request: Request) -> Response:
        try:
            outbox_id = int(request.path_params["outbox_id"])
        except ValueError:
            raise ApiProblem(400, "outbox id must be a number") from None
        new_id = await run_in_threadpool(hub.run, lambda db: outbox.resend(db, outbox_id))
        return JSONResponse({"outbox_id": new_id})

    async def release(request: Request) -> Response:
        released = await run_in_threadpool(hub.run, outbox.release_held)
        return JSONResponse({"released": released})

    async def switches(request: Request) -> Response:
        if request.method == "POST":
            document = await _body(request)
            unknown = set(document) - set(state.SWITCH_NAMES)
            if unknown or not all(isinstance(value, bool) for value in document.values()):
                raise ApiProblem(400, f"switches are {', '.join(state.SWITCH_NAMES)}, each true or false")
            await run_in_threadpool(hub.run, lambda db: state.set_switches(db, document))
        return JSONResponse(await run_in_threadpool(hub.switches))

    async def reset(request: Request) -> Response:
        await run_in_threadpool(hub.reset)
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> Response:
        document = await _body(request)
        seed_value = document.get("seed")
        if seed_value is not None and not isinstance(seed_value, int):
            raise ApiProblem(400, "seed must be a whole number")
        scenario = await run_in_threadpool(hub.run, lambda db: seed_sandbox(db, seed=seed_value))
        return JSONResponse(scenario, status_code=201)

    def guarded(handler: Handler) -> Handler:
        return partner_endpoint(hub, handler)

    channel = ADMIN_PREFIX + "/channels/{channel_id}"
    return [
        Route(f"{channel}/quality", guarded(quality), methods=["POST"]),
        Route(f"{channel}/violation", guarded(account_alert("account_violation")), methods=["POST"]),
        Route(f"{channel}/restriction", guarded(account_alert("account_restriction")), methods=["POST"]),
        Route(f"{channel}/template", guarded(template), methods=["POST"]),
        Route(f"{channel}/revoke", guarded(revoke), methods=["POST"]),
        Route(f"{channel}/cancellation", guarded(cancellation), methods=["POST"]),
        Route(ADMIN_PREFIX + "/clients/{client_id}/limit", guarded(portfolio_limit), methods=["POST"]),
        Route(f"{channel}/grant", guarded(grant), methods=["POST"]),
        Route(f"{channel}/regenerate-key", guarded(regenerate_key), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/onboard", guarded(onboard), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/outbox", guarded(list_outbox), methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/outbox/release", guarded(release), methods=["POST"]),
        Route(ADMIN_PREFIX + "/outbox/{outbox_id}/resend", guarded(resend), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/switches", guarded(switches), methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/reset", guarded(reset), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/seed", guarded(seed), methods=["POST"]),
    ]
