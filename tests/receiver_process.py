"""Run the real webhook receiver (uvicorn in a subprocess) on a free loopback port against a temp data folder."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from services.stack import stop_process
from tests.stack_process import ROOT, free_port

RECEIVER_ENV_KEYS = ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD", "RECEIVER_AUTH_HEADER_NAME")


@dataclass
class RunningReceiver:
    process: subprocess.Popen
    url: str
    secret: str
    env: dict[str, str]
    log_path: Path

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks/360dialog"

    @property
    def db_path(self) -> Path:
        return Path(self.env["CONSOLE_DATA_DIR"]) / "console.db"

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> int:
        return stop_process(self.process, signal.SIGTERM)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def start_receiver(
    data_dir: Path, secret: str, *, port: int | None = None, extra_env: dict[str, str] | None = None
) -> RunningReceiver:
    port = port or free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key not in RECEIVER_ENV_KEYS},
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "D360_PLATFORM_SECRET": secret,
        "CONSOLE_RECEIVER_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    log_path = data_dir / f"receiver-{port}-{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "services.receiver:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    receiver = RunningReceiver(process, f"http://127.0.0.1:{port}", secret, env, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the receiver stopped at start:\n" + log_path.read_text())
        if receiver.healthy():
            return receiver
        time.sleep(0.2)
    receiver.stop()
    raise RuntimeError("the receiver did not become healthy:\n" + log_path.read_text())
