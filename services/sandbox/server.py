"""The sandbox hub: a stand-in for 360dialog in demo mode (IO pages, Partner API, partner webhooks).

Run with `uvicorn --factory services.sandbox.server:app_from_settings`. It behaves as 360dialog documents IO,
the Partner API and partner webhooks, and nothing beyond that.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from services.sandbox import admin, inbox, messaging_api, outbox, partner_api, state
from services.sandbox.hub import DELIVERY_BATCH, SandboxHub
from services.sandbox.partner_api import api_error
from services.settings import Settings, SettingsError, load_settings
from services.whatsapp import PHONE_PATTERN

log = logging.getLogger("sandbox")
DELIVERY_POLL_SECONDS = 0.25
# The form carries it back: the IO attempt its page started, which the link's signature may still finish.
ATTEMPT_PARAMETER = "io_attempt"


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0;color:#1d2b36}}
main{{max-width:460px;margin:40px auto;background:#fff;border-radius:12px;padding:28px 32px;
box-shadow:0 2px 12px rgba(0,0,0,.08)}}
h1{{font-size:1.3rem}} label{{display:block;margin:14px 0 4px;font-weight:600}}
input[type=text],textarea{{width:100%;box-sizing:border-box;padding:8px;border:1px solid #c5ced6;border-radius:6px}}
button{{margin-top:18px;background:#00a884;color:#fff;border:0;border-radius:6px;padding:10px 18px;font-size:1rem}}
.badge{{display:inline-block;background:#ffe9a8;border-radius:4px;padding:2px 6px;font-size:.8rem}}
.error{{color:#b00020}}
</style></head><body><main>{body}</main></body></html>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def _onboarding_form(partner_id: str, query: str) -> str:
    return f"""
<p><span class="badge">360dialog sandbox</span></p>
<h1>Connect your WhatsApp Business number</h1>
<p>Partner <b>{html.escape(partner_id)}</b> asks for permission to manage your numbers.</p>
<form method="post">
<input type="hidden" name="query" value="{html.escape(query)}">
<label for="business_name">Business name</label>
<input type="text" id="business_name" name="business_name" required maxlength="100">
<label for="numbers">Phone numbers (one per line)</label>
<textarea id="numbers" name="numbers" rows="3" required></textarea>
<label><input type="checkbox" id="grant" name="grant" value="yes" checked>
 Grant {html.escape(partner_id)} permission to generate API keys for these numbers</label>
<button type="submit" id="submit">Continue</button>
</form>"""


def _with_attempt(query: str, attempt: str | None) -> str:
    """The form's copy of the link's query, with the code of the attempt it started (the hub's own parameter)."""
    if attempt is None:
        return query
    return f"{query}&{urlencode({ATTEMPT_PARAMETER: attempt})}" if query else urlencode({ATTEMPT_PARAMETER: attempt})


def _parse_numbers(raw: str) -> list[str]:
    numbers = [line.strip() for line in re.split(r"[\n,]", raw) if line.strip()]
    if not numbers or len(numbers) > 20 or not all(PHONE_PATTERN.match(n) for n in numbers):
        raise ValueError("Enter between one and twenty phone numbers, digits only, one per line.")
    return numbers


def _redirect_target(redirect_url: str, client_id: str, channel_ids: list[str], query_state: str | None) -> str:
    # Lists go as one bracketed, comma-separated value (contract section 2).
    params = {"client": client_id, "channels": "[" + ",".join(channel_ids) + "]"}
    if query_state:
        params["state"] = query_state
    separator = "&" if urlsplit(redirect_url).query else "?"
    return redirect_url + separator + urlencode(params, safe="[],")


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> Starlette:
    """The hub's web app; `clock` (seconds since the epoch) decides when an IO Signature has expired."""
    hub = SandboxHub(settings, clock)

    async def onboarding(request: Request) -> Response:
        partner_id = request.path_params["partner_id"]
        if partner_id != settings.partner_id:
            return page("Unknown partner", f"<h1 class='error'>Unknown partner {html.escape(partner_id)}</h1>", 404)
        if request.method == "GET":
            params = dict(request.query_params)
            problem = await run_in_threadpool(hub.signature_problem, partner_id, params)
            if problem:
                return page(
                    "Link not accepted", f"<h1 class='error'>Link not accepted</h1><p>{html.escape(problem)}</p>", 403
                )
            # Showing the form starts IO: the signature starts no other attempt.
            attempt = await run_in_threadpool(hub.start_io, params)
            return page("Connect WhatsApp", _onboarding_form(partner_id, _with_attempt(request.url.query, attempt)))
        form = await request.form()
        query = str(form.get("query", ""))
        params = dict(parse_qsl(query))
        attempt = params.pop(ATTEMPT_PARAMETER, None)
        problem = await run_in_threadpool(hub.signature_problem, partner_id, params, attempt)
        if problem:
            return page(
                "Link not accepted", f"<h1 class='error'>Link not accepted</h1><p>{html.escape(problem)}</p>", 403
            )
        try:
            numbers = _parse_numbers(str(form.get("numbers", "")))
        except ValueError as error:
            return page(
                "Check the numbers",
                f"<p class='error'>{html.escape(str(error))}</p>" + _onboarding_form(partner_id, query),
                400,
            )
        name = str(form.get("business_name", "")).strip()[:100] or "Unnamed business"
        redirect_url = params.get("redirect_url") or settings.landing_url
        if urlsplit(redirect_url).scheme not in {"http", "https"}:
            return page("Bad redirect", "<h1 class='error'>The link's redirect_url is not an http(s) URL</h1>", 400)
        # Without the grant the numbers are onboarded, but the partner may not generate keys for them.
        granted = form.get("grant") == "yes"
        if params.get("io_signature"):
            await run_in_threadpool(hub.run, lambda db: state.consume_signature(db, params["io_signature"]))
            hub.finish_io(attempt)
        client_id, channel_ids = await run_in_threadpool(
            hub.run,
            lambda db: outbox.create_client_with_channels(
                db,
                name=name,
                numbers=numbers,
                partner_payload=params.get("partner"),
                running_after=settings.sandbox_running_delay_seconds,
                permission_granted=granted,
            ),
        )
        permitted = channel_ids if granted else []
        return RedirectResponse(_redirect_target(redirect_url, client_id, permitted, params.get("state")), 303)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def deliver_forever() -> None:
            while True:
                attempted = 0
                try:
                    attempted = await run_in_threadpool(hub.deliver_due)
                except Exception:
                    log.exception("webhook delivery round failed")
                # A full round means more are waiting: go on at once, as when the hub catches up on a backlog.
                if attempted < DELIVERY_BATCH:
                    await asyncio.sleep(DELIVERY_POLL_SECONDS)

        task = asyncio.create_task(deliver_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        hub.close()

    async def not_routed(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = "Method not allowed" if status == 405 else "Not found"
        if request.url.path.startswith(("/api/", admin.ADMIN_PREFIX)):
            return api_error(status, f"{message}: {request.method} {request.url.path}")
        return page(message, f"<h1 class='error'>{message}</h1>", status)

    onboarding_methods = ["GET", "POST"]
    return Starlette(
        routes=[
            Route("/dashboard/app/{partner_id}/permissions", onboarding, methods=onboarding_methods),
            Route("/dashboard/app/{partner_id}", onboarding, methods=onboarding_methods),
            Route("/onboarding/{partner_id}", onboarding, methods=onboarding_methods),
            *partner_api.routes(hub),
            *messaging_api.routes(hub),
            *admin.routes(hub),
            *inbox.routes(hub),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={404: not_routed, 405: not_routed},
        lifespan=lifespan,
    )


def app_from_settings() -> Starlette:
    """The app as uvicorn serves it (`--factory`): the settings read, checked and logged with, when it starts."""
    try:
        settings = load_settings(role="sandbox")
    except SettingsError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if not settings.demo_mode:
        print(
            "sandbox: partner credentials are configured (live mode); the sandbox hub runs only in demo mode",
            file=sys.stderr,
        )
        raise SystemExit(2)
    logging.basicConfig(level=settings.log_level_number, format="%(asctime)s %(name)s %(message)s")
    return create_app(settings)
