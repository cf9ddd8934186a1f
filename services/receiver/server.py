"""The webhook receiver: the one process 360dialog reaches over the internet.

Run with `uvicorn --factory services.receiver.server:app_from_settings`. A 2xx is answered only after the event
is committed by the writer process (services.receiver.writer_main), where concurrent deliveries share one commit.
On SIGTERM or SIGINT uvicorn stops accepting and lets the requests in flight finish; the lifespan then lets the
writer store and answer whatever it was sent, and waits for it to exit.
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
from starlette.types import Receive, Scope, Send

from services.addresses import UNKNOWN_SOURCE, Network, client_address, is_trusted_proxy
from services.events.signature import PLAIN_FORM, SIGNATURE_HEADER, check_signature, verify_shared_token
from services.events.webhook import MalformedWebhook
from services.receiver.group_commit import DeliveryNotStored, StorageUnavailable
from services.receiver.request_log import RequestLog, format_request
from services.receiver.stats import Rejection
from services.receiver.writer import WriterProcess
from services.settings import Settings, SettingsError, load_settings
from services.store import utc_now

log = logging.getLogger("receiver")
WEBHOOK_PATH = "/webhooks/360dialog"
KEPT_HEADERS = ("content-type", "user-agent", SIGNATURE_HEADER, "x-forwarded-for")
# Answers that refuse the request itself; they are counted and logged for the operator. 5xx are ours.
REJECTION_STATUSES = frozenset({400, 401, 405, 408, 413})
# Every common method reaches the handler, so a wrong one is counted like any other refusal.
ROUTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Answer:
    status: int
    payload: dict[str, Any]
    reason: str | None = None
    event_type: str | None = None
    events: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class BodyTooLarge(Exception):
    """The body is over the configured limit; nothing past the limit was read."""


async def read_capped_body(receive: Receive, declared_length: str | None, limit: int) -> bytes:
    """The body, read as it streams in and abandoned as soon as it passes `limit` bytes."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def read_headers(scope: Scope, names: frozenset[bytes]) -> dict[str, str]:
    """The first value of each header in `names` (lower case), in one pass over the raw list."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in names:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


def _shared_token_problem(settings: Settings, headers: dict[str, str]) -> str | None:
    if not (settings.receiver_auth_header_name and settings.receiver_auth_header_value):
        return None
    return verify_shared_token(
        headers.get(settings.receiver_auth_header_name.lower()), settings.receiver_auth_header_value
    )


def _read_header_names(settings: Settings) -> frozenset[bytes]:
    names = {*KEPT_HEADERS, "content-length", SIGNATURE_HEADER}
    if settings.receiver_auth_header_name:
        names.add(settings.receiver_auth_header_name.lower())
    return frozenset(name.encode("latin-1") for name in names)


def _refused(status: int, reason: str, **headers: str) -> Answer:
    return Answer(status, {"error": reason}, reason=reason, headers=headers)


async def receive_webhook(
    settings: Settings, writer: WriterProcess, scope: Scope, receive: Receive, header_names: frozenset[bytes]
) -> Answer:
    """Check, parse and store one delivery; the outcome says what to answer."""
    if scope["method"] != "POST":
        return _refused(405, "method not allowed", allow="POST")
    headers = read_headers(scope, header_names)
    # The shared token needs no body: refuse early, before reading anything.
    problem = _shared_token_problem(settings, headers)
    if problem:
        return _refused(401, problem)
    try:
        # A client that stops sending mid-body must not hold a connection (and a file descriptor) for ever.
        async with asyncio.timeout(settings.receiver_body_timeout_seconds):
            body = await read_capped_body(receive, headers.get("content-length"), settings.receiver_max_body_bytes)
    except TimeoutError:
        return _refused(408, f"body not complete within {settings.receiver_body_timeout_seconds:g} s")
    except BodyTooLarge:
        return _refused(413, f"body larger than {settings.receiver_max_body_bytes} bytes")
    except ClientDisconnect:
        # Nobody is left to answer; logged (nginx's 499), not counted as a refusal.
        return Answer(499, {"error": "client disconnected"}, "client disconnected before the body was complete")
    verdict = "not checked"
    if settings.receiver_verify_signature:
        problem, form = check_signature(body, headers.get(SIGNATURE_HEADER), settings.platform_secret)
        if problem:
            return _refused(401, problem)
        verdict = "valid" if form == PLAIN_FORM else f"valid ({form})"
    try:
        # The writer process parses the body; a malformed one comes back as MalformedWebhook.
        kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
        result = await writer.submit(body, kept, verdict)
    except MalformedWebhook as error:
        return _refused(400, str(error))
    except StorageUnavailable as error:
        # 360dialog retries a 5xx; it must never take this for a stored event.
        return Answer(503, {"error": "storage unavailable, retry later"}, str(error))
    except DeliveryNotStored:
        return Answer(500, {"error": "event not stored, retry later"}, "event not stored")
    return Answer(
        200,
        {"stored": result.stored, "duplicates": result.duplicates},
        event_type=result.event_type,
        events=result.events,
    )


def request_source(scope: Scope, trusted_proxies: tuple[Network, ...]) -> str:
    """Where the request came from, always an IP address: the socket's peer, or the hop a proxy named in
    CONSOLE_TRUSTED_PROXIES added. uvicorn runs with --no-proxy-headers, so `client` is the socket's peer."""
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded_for = None
    if is_trusted_proxy(peer, trusted_proxies):
        # Several X-Forwarded-For headers read as one list; only its last entry is the proxy's own.
        forwarded_for = ",".join(
            value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
        )
    return client_address(peer, forwarded_for, trusted_proxies)


def _log_line(outcome: Answer, started: float, source: str) -> str:
    latency_ms = (time.perf_counter() - started) * 1000
    if outcome.reason:
        return format_request(
            outcome.status, outcome.event_type, outcome.events, latency_ms, reason=outcome.reason, source=source
        )
    return format_request(outcome.status, outcome.event_type, outcome.events, latency_ms)


class WebhookEndpoint:
    """The webhook route as a plain ASGI app. Starlette's request/response wrapper (a Request, a response
    object, an exception-handling layer) cost a measurable share of the receiver's CPU per request; the route,
    the middleware and uvicorn stay the same as for any other endpoint."""

    def __init__(self, settings: Settings, writer: WriterProcess, request_log: RequestLog) -> None:
        self._settings = settings
        self._writer = writer
        self._request_log = request_log
        self._header_names = _read_header_names(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        outcome = await receive_webhook(self._settings, self._writer, scope, receive, self._header_names)
        # Only a refusal or a failure names its source; a stored delivery's line does not need it.
        source = request_source(scope, self._settings.trusted_proxies) if outcome.reason else UNKNOWN_SOURCE
        if outcome.status in REJECTION_STATUSES and outcome.reason:
            self._writer.reject(Rejection(utc_now(), source, outcome.status, outcome.reason))
        self._request_log.add(_log_line(outcome, started, source))
        body = json.dumps(outcome.payload, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in outcome.headers.items()]
        await send({"type": "http.response.start", "status": outcome.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings) -> Starlette:
    writer = WriterProcess(
        settings.console_db_path,
        busy_timeout_seconds=settings.receiver_db_timeout_seconds,
        log_level=settings.log_level,
    )
    request_log = RequestLog(enabled=settings.log_level_number <= logging.INFO)

    async def healthz(request: Request) -> JSONResponse:
        try:
            last = await writer.probe()
        except StorageUnavailable:
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok", "last_event_at": last})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await writer.start()
        try:
            yield
        finally:
            # uvicorn has already answered (or given up on) every request; commit the rest and close.
            await writer.close()
            request_log.flush()

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, WebhookEndpoint(settings, writer, request_log), methods=ROUTED_METHODS),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.writer = writer
    return app


def app_from_settings() -> Starlette:
    """The app as uvicorn serves it (`--factory`): the settings read, checked and logged with, when it starts."""
    try:
        settings = load_settings(role="receiver")
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
