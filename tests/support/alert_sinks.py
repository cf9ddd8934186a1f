"""Where alerts land in tests, over real transports on loopback: an HTTP sink for apprise's JSON target
(Starlette on uvicorn in a thread) that can refuse on purpose, an SMTP server (aiosmtpd), and a service sink that
stands in for Slack, Discord and Teams (plain HTTP, or HTTPS with a certificate made for the test, for the
services apprise reaches only over https)."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path

import uvicorn
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
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
        return self._part(index, "plain")

    def html(self, index: int) -> str:
        """The HTML part of the message, or "" when it has none."""
        return self._part(index, "html", only=True)

    def _part(self, index: int, kind: str, *, only: bool = False) -> str:
        with self.lock:
            message = self.received[index]
        preferred = (kind,) if only else (kind, "plain", "html")
        part = message.get_body(preferencelist=preferred)
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


@dataclass
class ServiceSink:
    """Records each request a service plugin of apprise sends (path and JSON body) and answers 200 "ok"."""

    received: list[tuple[str, dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> PlainTextResponse:
            body = json.loads(await request.body())
            with self.lock:
                self.received.append((request.url.path, body))
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])

    def bodies(self, path_prefix: str) -> list[dict]:
        with self.lock:
            return [body for path, body in self.received if path.startswith(path_prefix)]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made for one test run (apprise is told not to verify it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sink-cert.pem", directory / "sink-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextmanager
def service_sink(tls_directory: Path | None = None) -> Iterator[tuple[ServiceSink, str]]:
    """A service sink on a free loopback port; with `tls_directory`, over HTTPS. Yields it and its base URL."""
    sink = ServiceSink()
    port = free_port()
    tls = {}
    if tls_directory is not None:
        cert_path, key_path = _self_signed(tls_directory)
        tls = {"ssl_certfile": str(cert_path), "ssl_keyfile": str(key_path)}
    config = uvicorn.Config(sink.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False, **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), timeout=30, interval=0.02)
    if not server.started:
        raise RuntimeError("the service sink did not start")
    try:
        yield sink, f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
