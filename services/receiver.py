"""The webhook receiver: the one process 360dialog reaches over the internet.

Run with `uvicorn services.receiver:app`. A 2xx is answered only after the event is committed.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.events import SaveResult, save_events
from services.settings import Settings, SettingsError, load_settings
from services.store import open_console_db
from services.webhook_events import MalformedWebhook, parse_webhook_body
from services.webhook_signature import SIGNATURE_HEADER, verify_shared_token, verify_signature

log = logging.getLogger("receiver")
KEPT_HEADERS = ("content-type", "user-agent", SIGNATURE_HEADER, "x-forwarded-for")


class EventWriter:
    """Owns the receiver's one database connection; writes are serialised through it."""

    def __init__(self, settings: Settings) -> None:
        self._db = open_console_db(settings.console_db_path)
        self._lock = threading.Lock()

    def save(self, events: list, headers: dict[str, str], verdict: str) -> SaveResult:
        with self._lock:
            return save_events(self._db, events, headers=headers, verdict=verdict)

    def last_event_at(self) -> str | None:
        with self._lock:
            row = next(self._db.query("select max(received_at) as at from events"))
        return row["at"]

    def close(self) -> None:
        self._db.close()


def _kept_headers(request: Request) -> dict[str, str]:
    return {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}


def _authenticate(settings: Settings, request: Request, body: bytes) -> str | None:
    problem = verify_signature(body, request.headers.get(SIGNATURE_HEADER), settings.platform_secret)
    if problem:
        return problem
    if settings.receiver_auth_header_name and settings.receiver_auth_header_value:
        return verify_shared_token(
            request.headers.get(settings.receiver_auth_header_name), settings.receiver_auth_header_value
        )
    return None


def create_app(settings: Settings) -> Starlette:
    writer: EventWriter | None = None

    def get_writer() -> EventWriter:
        nonlocal writer
        if writer is None:
            writer = EventWriter(settings)
        return writer

    async def webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        body = await request.body()
        status, payload, event_type = await _handle(request, body)
        log.info(
            "webhook status=%s event=%s latency_ms=%.1f",
            status,
            event_type or "-",
            (time.perf_counter() - started) * 1000,
        )
        return JSONResponse(payload, status_code=status)

    async def _handle(request: Request, body: bytes) -> tuple[int, dict[str, Any], str | None]:
        if len(body) > settings.receiver_max_body_bytes:
            return 413, {"error": "body too large"}, None
        problem = _authenticate(settings, request, body)
        if problem:
            return 401, {"error": problem}, None
        try:
            events = parse_webhook_body(body)
        except MalformedWebhook as error:
            return 400, {"error": str(error)}, None
        try:
            result = await run_in_threadpool(get_writer().save, events, _kept_headers(request), "valid")
        except sqlite3.Error:
            log.exception("database write failed")
            return 503, {"error": "storage unavailable, retry later"}, events[0].event_type
        return 200, {"stored": result.stored, "duplicates": result.duplicates}, events[0].event_type

    async def healthz(request: Request) -> JSONResponse:
        try:
            last = await run_in_threadpool(get_writer().last_event_at)
        except sqlite3.Error:
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok", "last_event_at": last})

    return Starlette(
        routes=[
            Route("/webhooks/360dialog", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def _app_from_settings() -> Starlette:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"receiver: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(level=settings.log_level_number, format="%(asctime)s %(name)s %(message)s")
    return create_app(settings)


def __getattr__(name: str) -> Any:
    # `uvicorn services.receiver:app` builds the app on first access, so importing this module in tests
    # reads no settings.
    if name == "app":
        application = _app_from_settings()
        globals()["app"] = application
        return application
    raise AttributeError(name)
