"""The sandbox hub on real HTTP (uvicorn in a thread, free loopback ports), with a receiver that records what
the hub delivers and can refuse the first deliveries on purpose."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.demo.hub_client import SandboxClient
from services.partner_api import PartnerApi
from services.sandbox.server import create_app
from services.settings import Settings, load_settings
from tests.support.servers import free_port, serving


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


@dataclass
class Hub:
    settings: Settings
    url: str
    receiver: RecordingReceiver
    sandbox: SandboxClient

    def api(self, **credentials: str) -> PartnerApi:
        credentials = credentials or {"api_key": self.settings.partner_api_key}
        return PartnerApi(self.settings.api_base_url, self.settings.partner_id, timeout=10, **credentials)


def start_hub(
    stack: ExitStack, data_dir: Path, *, fail_first: int = 0, clock: Callable[[], float] = time.time, **env: str
) -> Hub:
    """A hub and its recording receiver, both stopped when `stack` closes; `clock` is the hub's for signatures."""
    receiver = RecordingReceiver(fail_first=fail_first)
    sandbox_port, receiver_port = free_port(), free_port()
    settings = sandbox_settings(data_dir, sandbox_port=sandbox_port, receiver_port=receiver_port, **env)
    stack.enter_context(serving(receiver.app(), receiver_port))
    url = stack.enter_context(serving(create_app(settings, clock=clock), sandbox_port))
    sandbox = SandboxClient(url, settings.partner_api_key)
    stack.callback(sandbox.close)
    return Hub(settings, url, receiver, sandbox)
