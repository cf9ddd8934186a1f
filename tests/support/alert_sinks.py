"""Where alerts land in tests, over real transports on loopback: an HTTP sink for apprise's JSON target
(Starlette on uvicorn in a thread) that can refuse on purpose, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.servers import free_port, serving, wait_for


@dataclass
class JsonSink:
    """Records each JSON body apprise posts; answers 500 while `failing` is above zero (counting down)."""

    failing: int = 0
    received: list[dict] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            with self.lock:
                if self.failing > 0:
                    self.failing -= 1
                    self.refused += 1
                    return JSONResponse({"error": "down for a test"}, status_code=500)
                self.received.append(body)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def titles(self) -> list[str]:
        with self.lock:
            return [body["title"] for body in self.received]

    def messages(self) -> list[dict]:
        with self.lock:
            return list(self.received)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()

    def wait_for_count(self, count: int, timeout: float = 30) -> list[dict]:
        wait_for(lambda: len(self.messages()) >= count, timeout=timeout, interval=0.05)
        return self.messages()


@contextmanager
def json_sink(port: int | None = None) -> Iterator[tuple[JsonSink, str]]:
    """A sink on a free loopback port; yields it and the apprise URL that reaches it."""
    sink = JsonSink()
    port = port or free_port()
    with serving(sink.app(), port):
        yield sink, f"json://127.0.0.1:{port}/hook"


@dataclass
class MailSink:
    received: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(message)
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(message["Subject"]) for message in self.received]

    def text(self, index: int) -> str:
        with self.lock:
            message = self.received[index]
        part = message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


@contextmanager
def smtp_sink() -> Iterator[tuple[MailSink, str]]:
    """An SMTP server on a free loopback port (no TLS, no login); yields it and an apprise mailto:// URL."""
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=ops@example.com&mode=insecure"
    finally:
        controller.stop()
