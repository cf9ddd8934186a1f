"""Real HTTP for tests: the sandbox hub (and a receiver) on uvicorn in a thread, on a free loopback port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.settings import Settings, load_settings
from tests.uvicorn_thread import uvicorn_in_thread


def sandbox_settings(data_dir: Path, *, sandbox_port: int, receiver_port: int, **extra: str) -> Settings:
    """Demo-mode settings for a sandbox on `sandbox_port` delivering to a receiver on `receiver_port`."""
    env = {
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "CONSOLE_RECEIVER_URL": f"http://127.0.0.1:{receiver_port}",
        "SANDBOX_RUNNING_DELAY_SECONDS": "0.5",
        **extra,
    }
    return load_settings(env=env)


@contextmanager
def serving(app: Starlette, port: int) -> Iterator[str]:
    """Run `app` until the block ends (lifespan included, so the hub's delivery loop runs too)."""
    with uvicorn_in_thread(app, port):
        yield f"http://127.0.0.1:{port}"


@dataclass
class RecordingReceiver:
    """A webhook receiver that records what arrives and can fail the first requests on purpose."""

    fail_first: int = 0
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            body = await request.body()
            with self.lock:
                self.received.append((body, dict(request.headers)))
                status = 503 if len(self.received) <= self.fail_first else 200
                self.answered.append(status)
            return JSONResponse({"status": status}, status_code=status)

        return Starlette(routes=[Route("/webhooks/360dialog", hook, methods=["POST"])])

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [body for body, _ in self.received]
