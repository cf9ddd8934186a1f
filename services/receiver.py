"""The webhook receiver: the one process 360dialog reaches over the internet.

Run with `uvicorn services.receiver:app`. A 2xx is answered only after the event is committed; concurrent
deliveries share one commit (services.receiver_writer). On SIGTERM or SIGINT uvicorn stops accepting and lets
the requests in flight finish; the lifespan then commits whatever is still queued and closes the database.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.receiver_stats import Rejection
from services.receiver_writer import DeliveryNotStored, GroupCommitWriter, StorageUnavailable
from services.settings import Settings, SettingsError, load_settings
from services.store import utc_now
from services.webhook_events import MalformedWebhook, parse_webhook_body
from services.webhook_signature import SIGNATURE_HEADER, verify_shared_token, verify_signature

log = logging.getLogger("receiver")
WEBHOOK_PATH = "/webhooks/360dialog"
KEPT_HEADERS = ("content-type", "user-agent", SIGNATURE_HEADER, "x-forwarded-for")
# Answers that refuse the request itself; they are counted and logged for the operator. 5xx are ours.
REJECTION_STATUSES = frozenset({400, 401, 405, 413})
# Every common method reaches the handler, so a wrong one is counted like any other refusal.
ROUTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Outcome:
    status: int
    payload: dict[str, Any]
    reason: str | None = None
    event_type: str | None = None
    events: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class BodyTooLarge(Exception):
    """The body is over the configured limit; nothing past the limit was read."""


async def read_capped_body(request: Request, limit: int) -> bytes:
    """The body, read as it streams in and abandoned as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _kept_headers(request: Request) -> dict[str, str]:
    return {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}


def _shared_token_problem(settings: Settings, request: Request) -> str | None:
    if not (settings.receiver_auth_header_name and settings.receiver_auth_header_value):
        return None
    return verify_shared_token(
        request.headers.get(settings.receiver_auth_header_name), settings.receiver_auth_header_value
    )


def _refused(status: int, reason: str, **headers: str) -> Outcome:
    return Outcome(status, {"error": reason}, reason=reason, headers=headers)


async def receive_webhook(settings: Settings, writer: GroupCommitWriter, request: Request) -> Outcome:
    """Check, parse and store one delivery; the outcome says what to answer."""
    if request.method != "POST":
        return _refused(405, "method not allowed", allow="POST")
    # The shared token needs no body: refuse early, before reading anything.
    problem = _shared_token_problem(settings, request)
    if problem:
        return _refused(401, problem)
    try:
        body = await read_capped_body(request, settings.receiver_max_body_bytes)
    except BodyTooLarge:
        return _refused(413, f"body larger than {settings.receiver_max_body_bytes} bytes")
    except ClientDisconnect:
        # Nobody is left to answer; logged (nginx's 499), not counted as a refusal.
        return Outcome(499, {"error": "client disconnected"}, "client disconnected before the body was complete")
    verdict = "not checked"
    if settings.receiver_verify_signature:
        problem = verify_signature(body, request.headers.get(SIGNATURE_HEADER), settings.platform_secret)
        if problem:
            return _refused(401, problem)
        verdict = "valid"
    try:
        events = parse_webhook_body(body)
    except MalformedWebhook as error:
        return _refused(400, str(error))
    event_type = events[0].event_type
    try:
        result = await writer.submit(events, _kept_headers(request), verdict)
    except StorageUnavailable as error:
        # 360dialog retries a 5xx; it must never take this for a stored event.
        return Outcome(
            503, {"error": "storage unavailable, retry later"}, str(error), event_type=event_type, events=len(events)
        )
    except DeliveryNotStored:
        return Outcome(
            500,
            {"error": "event not stored, retry later"},
            "event not stored",
            event_type=event_type,
            events=len(events),
        )
    return Outcome(
        200,
        {"stored": result.stored, "duplicates": result.duplicates},
        event_type=event_type,
        events=len(events),
    )


def _log_request(outcome: Outcome, started: float, source: str | None) -> None:
    # JSON keeps a hostile event name from forging log lines; the body and secrets are never included.
    record: dict[str, Any] = {
        "status": outcome.status,
        "event": outcome.event_type,
        "events": outcome.events,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if outcome.reason:
        record["reason"] = outcome.reason
        record["source"] = source
    log.info("%s", json.dumps(record, ensure_ascii=True))


def create_app(settings: Settings) -> Starlette:
    writer = GroupCommitWriter(settings.console_db_path, busy_timeout_seconds=settings.receiver_db_timeout_seconds)

    async def webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        source = request.client.host if request.client else None
        outcome = await receive_webhook(settings, writer, request)
        if outcome.status in REJECTION_STATUSES and outcome.reason:
            writer.reject(Rejection(utc_now(), source, outcome.status, outcome.reason))
        _log_request(outcome, started, source)
        return JSONResponse(outcome.payload, status_code=outcome.status, headers=outcome.headers)

    async def healthz(request: Request) -> JSONResponse:
        try:
            last = await writer.probe()
        except StorageUnavailable:
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok", "last_event_at": last})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer.start()
        try:
            yield
        finally:
            # uvicorn has already answered (or given up on) every request; commit the rest and close.
            await asyncio.to_thread(writer.close)

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, webhook, methods=ROUTED_METHODS),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.writer = writer
    return app


def _app_from_settings() -> Starlette:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"receiver: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(level=settings.log_level_number, format="%(asctime)s %(name)s %(message)s")
    # Every request logs a line; skip what the format never shows (the logging HOWTO's "Optimization").
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # no caller's file and line looked up for each record
    application = create_app(settings)
    # Everything loaded so far (pandas comes in with sqlite-utils) lives as long as the process: keep it out
    # of the collector's full passes, which otherwise stall requests now and then (p99 several times higher).
    gc.collect()
    gc.freeze()
    # Requests make few reference cycles; collecting the young generation every 700 allocations (the default)
    # cost about a tenth of the receiver's CPU under load.
    gc.set_threshold(50_000, 20, 100)
    return application


def __getattr__(name: str) -> Any:
    # `uvicorn services.receiver:app` builds the app on first access, so importing this module in tests
    # reads no settings.
    if name == "app":
        application = _app_from_settings()
        globals()["app"] = application
        return application
    raise AttributeError(name)
