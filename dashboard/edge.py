"""The console's public edge: an ASGI middleware around Streamlit's own server (dashboard/server.py).

Streamlit answers a browser with more than the console means to show a stranger, and takes a request's
address from whatever `X-Forwarded-For` a loopback peer sends. This layer, the outermost one, decides
instead:

- the source: the socket's peer, or the last hop of `X-Forwarded-For` when the peer is one of
  CONSOLE_TRUSTED_PROXIES (services/addresses.py); always an IP address. It becomes the request's client, so
  `st.context.ip_address` and every count made from it see the same address. The header itself goes no
  further, so nothing behind this layer can read it again.
- routes nobody needs from outside: Streamlit's metrics, its agent API (which drives the app without a
  browser) and the script health check answer 404.
- what the first message of a session says: no absolute path of the script and no Streamlit or Python
  version (the page list is the navigation's business: dashboard/app.py gives a visitor only the landing).
- the host configuration the browser reads: no outside origin (Streamlit's list names its cloud's domains) may
  drive a framed console through postMessage.
- a few response headers: no MIME sniffing, no referrer leaving the console, and framing only by the
  console itself, except on the landing page.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from services.addresses import Network, client_address

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLOSED_PATHS = frozenset({"/_stcore/metrics", "/_stcore/script-health-check"})
CLOSED_PREFIXES = ("/_stcore/agent/",)
# Headers a client may write to claim another address; only the source computed here travels on.
ADDRESS_HEADERS = frozenset({b"x-forwarded-for", b"x-real-ip", b"forwarded"})
LANDING_PREFIX = "/landing"
HOST_CONFIG_PATH = "/_stcore/host-config"
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
# The landing page may open inside a partner's own flow; every other page only inside the console itself
# (Streamlit's components are same-origin frames).
FRAME_POLICY = (b"content-security-policy", b"frame-ancestors 'self'")


def is_closed(path: str) -> bool:
    return path.rstrip("/") in CLOSED_PATHS or path.startswith(CLOSED_PREFIXES)


def request_source(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The source of this request as services/addresses.py defines it, from the socket's peer and headers."""
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = [value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"x-forwarded-for"]
    return client_address(peer, ", ".join(forwarded) or None, trusted)


def with_source(scope: Scope, trusted: tuple[Network, ...]) -> Scope:
    """A copy of the scope whose client is the request's source and which carries no address header."""
    client = scope.get("client")
    port = client[1] if client else 0
    updated = dict(scope)
    updated["client"] = (request_source(scope, trusted), port)
    updated["headers"] = [(name, value) for name, value in scope.get("headers", []) if name not in ADDRESS_HEADERS]
    return updated


def without_internals(payload: bytes) -> bytes:
    """A session's first message minus the script's absolute path and the server's versions; others unchanged."""
    message = ForwardMsg()
    try:
        message.ParseFromString(payload)
    except Exception:  # noqa: BLE001 - a frame this layer cannot read is passed on as Streamlit wrote it
        return payload
    if message.WhichOneof("type") != "new_session":
        return payload
    session = message.new_session
    session.main_script_path = ""
    environment = session.initialize.environment_info
    environment.streamlit_version = ""
    environment.python_version = ""
    environment.server_os = ""
    return message.SerializeToString()


def response_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    added = [header for header in SECURITY_HEADERS if header[0] not in present]
    if not path.startswith(LANDING_PREFIX) and FRAME_POLICY[0] not in present:
        added.append(FRAME_POLICY)
    return [*headers, *added]


def without_outside_origins(body: bytes) -> bytes:
    """Streamlit's host configuration with no origin allowed to message the console from a parent frame."""
    try:
        host_config = json.loads(body)
    except ValueError:
        return body
    if not isinstance(host_config, dict):
        return body
    host_config["allowedOrigins"] = []
    return json.dumps(host_config).encode()


class ConsoleEdge:
    """Pure ASGI middleware (it must see websockets too, which Starlette's BaseHTTPMiddleware does not)."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if is_closed(scope.get("path", "")):
            await self._refuse(scope, receive, send)
            return
        scope = with_source(scope, self.trusted_proxies)
        if scope["type"] == "http":
            path = scope.get("path", "")
            sender = self._http_sender(path, send)
            if path.rstrip("/") == HOST_CONFIG_PATH:
                sender = self._rewriting_sender(sender, without_outside_origins)
            await self.app(scope, receive, sender)
        else:
            await self.app(scope, receive, self._websocket_sender(send))

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Not found"})

    @staticmethod
    def _http_sender(path: str, send: Send) -> Send:
        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": response_headers(path, list(message.get("headers", [])))}
            await send(message)

        return sender

    @staticmethod
    def _rewriting_sender(send: Send, rewrite: Callable[[bytes], bytes]) -> Send:
        """Holds a response until its body is complete, then sends it rewritten, with its length corrected."""
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                held["start"] = message
                return
            if message["type"] != "http.response.body" or "start" not in held:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = rewrite(b"".join(chunks))
            start = held.pop("start")
            headers = [(name, value) for name, value in start.get("headers", []) if name.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        return sender

    @staticmethod
    def _websocket_sender(send: Send) -> Send:
        async def sender(message: Message) -> None:
            if message["type"] == "websocket.send" and message.get("bytes"):
                message = {**message, "bytes": without_internals(message["bytes"])}
            await send(message)

        return sender
