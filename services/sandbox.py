"""The sandbox hub: a stand-in for 360dialog in demo mode (IO pages, Partner API, partner webhooks).

Run with `uvicorn services.sandbox:app`. It follows the contract in shared/360dialog-contract.md and
nothing beyond it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import logging
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from services import sandbox_state as state
from services.io_signature import SIGNATURE_LIFETIME_SECONDS, io_signature_matches
from services.settings import Settings, SettingsError, load_settings
from services.webhook_signature import SIGNATURE_HEADER, sign_body

log = logging.getLogger("sandbox")
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ]{5,19}$")
DELIVERY_POLL_SECONDS = 0.25
DELIVERY_TIMEOUT_SECONDS = 5.0


def api_error(status: int, message: str) -> JSONResponse:
    """Errors in 360dialog's shape (contract section 4)."""
    return JSONResponse(
        {"meta": {"success": False, "http_code": status, "developer_message": message, "details": []}},
        status_code=status,
    )


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


class SandboxHub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: Database | None = None
        self._lock = threading.Lock()

    def run(self, work: Callable[[Database], Any]) -> Any:
        """Run a piece of database work under the hub's single connection."""
        with self._lock:
            if self._db is None:
                self._db = state.open_sandbox_db(self.settings.sandbox_db_path)
            return work(self._db)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- IO signature ------------------------------------------------------------------------------
    def signature_problem(self, partner_id: str, params: dict[str, str]) -> str | None:
        if not self.settings.io_signature_enabled:
            return None
        signature, raw_timestamp = params.get("io_signature"), params.get("io_timestamp")
        if not signature or not raw_timestamp:
            return "This partner requires an IO Signature, and the link carries none."
        try:
            timestamp = int(raw_timestamp)
        except ValueError:
            return "The link's io_timestamp is not a number."
        if time.time() - timestamp > SIGNATURE_LIFETIME_SECONDS:
            return "The link's IO Signature has expired (older than 24 hours). Ask for a new link."
        if not io_signature_matches(
            partner_id,
            timestamp,
            signature,
            self.settings.platform_secret,
            encoding=self.settings.io_signature_encoding,
        ):
            return "The link's IO Signature is not valid for this partner."
        if self.run(lambda db: state.signature_used(db, signature)):
            return "This link was already used. Each IO link works once; ask for a new one."
        return None

    # -- webhook delivery --------------------------------------------------------------------------
    def deliver_due(self) -> int:
        deliveries = self.run(state.due_deliveries)
        for delivery in deliveries:
            self.run(lambda db, d=delivery: state.apply_delivery_status(db, d))
            body = delivery["body"].encode()
            try:
                response = requests.post(
                    self.settings.webhook_url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign_body(body, self.settings.platform_secret),
                    },
                    timeout=DELIVERY_TIMEOUT_SECONDS,
                )
                ok = 200 <= response.status_code < 300
                error = "" if ok else f"receiver answered {response.status_code}"
            except requests.RequestException as exc:
                ok, error = False, f"receiver unreachable: {type(exc).__name__}"
            if ok:
                self.run(lambda db, d=delivery: state.mark_delivered(db, d["id"]))
            else:
                self.run(lambda db, d=delivery, e=error: state.mark_failed(db, d, e))
        return len(deliveries)


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
<label><input type="checkbox" id="grant" name="grant" value="yes" required>
 Grant {html.escape(partner_id)} permission to generate API keys for these numbers</label>
<button type="submit" id="submit">Continue</button>
</form>"""


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


def create_app(settings: Settings) -> Starlette:
    hub = SandboxHub(settings)

    def authorised(request: Request) -> bool:
        supplied = request.headers.get("x-api-key", "")
        expected = settings.partner_api_key or ""
        return bool(supplied) and hmac.compare_digest(supplied.encode(), expected.encode())

    def own_partner(request: Request) -> bool:
        return request.path_params["partner_id"] == settings.partner_id

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
            return page("Connect WhatsApp", _onboarding_form(partner_id, request.url.query))
        form = await request.form()
        query = str(form.get("query", ""))
        params = dict(parse_qsl(query))
        problem = await run_in_threadpool(hub.signature_problem, partner_id, params)
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
        if params.get("io_signature"):
            await run_in_threadpool(hub.run, lambda db: state.consume_signature(db, params["io_signature"]))
        client_id, channel_ids = await run_in_threadpool(
            hub.run,
            lambda db: state.create_client_with_channels(
                db,
                name=name,
                numbers=numbers,
                partner_payload=params.get("partner"),
                running_after=settings.sandbox_running_delay_seconds,
            ),
        )
        redirect_url = params.get("redirect_url") or settings.landing_url
        if urlsplit(redirect_url).scheme not in {"http", "https"}:
            return page("Bad redirect", "<h1 class='error'>The link's redirect_url is not an http(s) URL</h1>", 400)
        return RedirectResponse(_redirect_target(redirect_url, client_id, channel_ids, params.get("state")), 303)

    async def list_channels(request: Request) -> JSONResponse:
        if not authorised(request):
            return api_error(401, "Invalid or missing API key")
        if not own_partner(request):
            return api_error(403, "Forbidden")
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), 1000)
            offset = max(int(request.query_params.get("offset", 0)), 0)
            filters = json.loads(request.query_params.get("filters", "{}") or "{}")
        except (ValueError, json.JSONDecodeError):
            return api_error(400, "limit, offset or filters is malformed")
        if not isinstance(filters, dict):
            return api_error(400, "filters must be a JSON object")

        def read(db: Database) -> tuple[list[dict[str, Any]], int]:
            rows = [state.channel_object(db, row) for row in db["channels"].rows_where(order_by="created_at, id")]
            rows = [row for row in rows if all(str(row.get(k)) == str(v) for k, v in filters.items())]
            return rows[offset : offset + limit], len(rows)

        page_rows, total = await run_in_threadpool(hub.run, read)
        return JSONResponse(
            {
                "count": len(page_rows),
                "total": total,
                "limit": limit,
                "offset": offset,
                "filters": filters,
                "sort": request.query_params.get("sort"),
                "partner_channels": page_rows,
            }
        )

    async def generate_key(request: Request) -> JSONResponse:
        if not authorised(request):
            return api_error(401, "Invalid or missing API key")
        if not own_partner(request):
            return api_error(403, "Forbidden")
        channel_id = request.path_params["channel_id"]
        channel = await run_in_threadpool(
            hub.run, lambda db: next(db["channels"].rows_where("id = ?", [channel_id]), None)
        )
        if channel is None:
            return api_error(404, f"Channel {channel_id} not found")
        if channel["status"] != "running":
            return api_error(400, f"Channel {channel_id} is not running yet (status: {channel['status']})")
        if not channel["permission_granted"]:
            return api_error(403, "The client has not granted permission for this number")
        key_id, api_key, app_id = await run_in_threadpool(hub.run, lambda db: state.issue_key(db, channel_id))
        return JSONResponse(
            {"id": key_id, "address": settings.sandbox_url, "api_key": api_key, "app_id": app_id}, status_code=201
        )

    async def multi_webhook(request: Request) -> JSONResponse:
        api_key = request.headers.get("d360-api-key", "")
        valid = bool(api_key) and await run_in_threadpool(hub.run, lambda db: state.key_is_current(db, api_key))
        if not valid:
            return JSONResponse({"error": "invalid api key"}, status_code=401)
        return JSONResponse({"url": None})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def deliver_forever() -> None:
            while True:
                try:
                    await run_in_threadpool(hub.deliver_due)
                except Exception:
                    log.exception("webhook delivery round failed")
                await asyncio.sleep(DELIVERY_POLL_SECONDS)

        task = asyncio.create_task(deliver_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        hub.close()

    onboarding_methods = ["GET", "POST"]
    return Starlette(
        routes=[
            Route("/dashboard/app/{partner_id}/permissions", onboarding, methods=onboarding_methods),
            Route("/dashboard/app/{partner_id}", onboarding, methods=onboarding_methods),
            Route("/onboarding/{partner_id}", onboarding, methods=onboarding_methods),
            Route("/api/v2/partners/{partner_id}/channels", list_channels, methods=["GET"]),
            Route("/api/v2/partners/{partner_id}/channels/{channel_id}/api_keys", generate_key, methods=["POST"]),
            Route("/multi_webhook", multi_webhook, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _app_from_settings() -> Starlette:
    try:
        settings = load_settings()
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


def __getattr__(name: str) -> Any:
    # Built on first access by uvicorn, so importing this module reads no settings.
    if name == "app":
        application = _app_from_settings()
        globals()["app"] = application
        return application
    raise AttributeError(name)
