"""The real webhook receiver, in this process (uvicorn in a thread) or as a process of its own, plus signed
requests and reads of what it stored.

Both ways give a `RunningReceiver`: its URL, its database and its secret. `running_receiver` serves
`create_app(settings)` for the length of a block; `start_receiver` runs the receiver's uvicorn factory with the
stack's flags, as a `ReceiverProcess` that can be stopped with SIGTERM or killed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from services.events.signature import SIGNATURE_HEADER, sign_body
from services.receiver.server import WEBHOOK_PATH, create_app
from services.settings import Settings, load_settings
from services.stack.commands import RECEIVER_APP, RECEIVER_SERVER_FLAGS
from services.stack.supervisor import stop_process
from tests.support import ROOT
from tests.support.servers import free_port, uvicorn_in_thread

SECRET = "test-platform-secret-0123456789"
# Stored means committed: listed in `events`, or acknowledged and waiting in `incoming_events` to be listed.
# One statement, so both tables are read as of one moment even while the writer moves events across.
STORED_KEYS_SQL = """
    select dedupe_key from (
        select dedupe_key, 0 as incoming, id from events union all select dedupe_key, 1, id from incoming_events
    ) order by incoming, id
"""
# Settings of the developer's environment a receiver process must not inherit.
RECEIVER_ENV_KEYS = ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD", "RECEIVER_AUTH_HEADER_NAME")


def stored_keys_in(db_path: Path) -> list[str]:
    """Every stored event's dedupe key, in the order they were stored."""
    with closing(sqlite3.connect(db_path)) as conn:
        return [key for (key,) in conn.execute(STORED_KEYS_SQL)]


def wait_until_listed(db_path: Path, timeout: float = 10.0) -> None:
    """Wait for the writer to index every incoming event (it does so once deliveries pause for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        with closing(sqlite3.connect(db_path)) as conn:
            if conn.execute("select count(*) from incoming_events").fetchone()[0] == 0:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"incoming events were not listed within {timeout} s")
        time.sleep(0.01)


def receiver_settings(data_dir: Path, **overrides: str) -> Settings:
    """The receiver as it is deployed: live mode, its own role, the platform secret and nothing else."""
    env = {
        "CONSOLE_MODE": "live",
        "CONSOLE_DATA_DIR": str(data_dir),
        "D360_PLATFORM_SECRET": SECRET,
        "RECEIVER_DB_TIMEOUT_SECONDS": "0.5",
        **overrides,
    }
    return load_settings(env=env, secrets_path=data_dir / "no-secrets.toml", role="receiver")


def event_body(event_id: str | None = "evt-1", name: str = "channel_created", **data: object) -> bytes:
    event: dict[str, object] = {"event": name, "data": {"id": "ch-1", "client_id": "cl-1", **data}}
    if event_id is not None:
        event["id"] = event_id
    return json.dumps(event).encode()


def signed_headers(body: bytes, secret: str = SECRET, prefix: str = "") -> dict[str, str]:
    return {SIGNATURE_HEADER: prefix + sign_body(body, secret), "content-type": "application/json"}


@dataclass
class RunningReceiver:
    """A receiver answering at `url`, storing into `db_path`, checking signatures with `secret`."""

    url: str
    db_path: Path
    secret: str

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    def sign(self, body: bytes) -> str:
        return sign_body(body, self.secret)

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        """POST `body` to the webhook path, signed with the receiver's secret unless `headers` are given."""
        return requests.post(
            self.webhook_url, data=body, headers=headers or signed_headers(body, self.secret), timeout=30
        )

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with closing(sqlite3.connect(self.db_path)) as conn:
            return conn.execute(sql, params).fetchall()

    def stored_keys(self) -> list[str]:
        return stored_keys_in(self.db_path)

    def listed(self, sql: str, params: tuple = ()) -> list[tuple]:
        """`query`, once every stored event is listed in the events table."""
        wait_until_listed(self.db_path)
        return self.query(sql, params)

    def counters(self) -> dict[str, int]:
        return dict(self.query("select name, value from receiver_counters"))

    def rejections(self) -> list[tuple]:
        return self.query("select source, status, reason from receiver_rejections order by id")


@contextmanager
def running_receiver(settings: Settings, port: int | None = None) -> Iterator[RunningReceiver]:
    """Serve create_app(settings) with uvicorn on a loopback port; stopping runs the lifespan shutdown."""
    port = port or free_port()
    with uvicorn_in_thread(create_app(settings), port):
        yield RunningReceiver(f"http://127.0.0.1:{port}", settings.console_db_path, settings.platform_secret)


@dataclass
class ReceiverProcess(RunningReceiver):
    """The receiver's uvicorn factory in a process of its own, its output in `log_path`."""

    process: subprocess.Popen
    env: dict[str, str]
    log_path: Path

    def stop(self) -> int:
        return stop_process(self.process, signal.SIGTERM)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def start_receiver(
    data_dir: Path,
    secret: str,
    *,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    log_level: str = "warning",
) -> ReceiverProcess:
    """Start the receiver on a free loopback port against `data_dir`, and wait until it answers its health check."""
    port = port or free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key not in RECEIVER_ENV_KEYS},
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "CONSOLE_MODE": "live",
        "D360_PLATFORM_SECRET": secret,
        "CONSOLE_RECEIVER_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    log_path = data_dir / f"receiver-{port}-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "uvicorn", *RECEIVER_APP, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", log_level, *RECEIVER_SERVER_FLAGS]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    receiver = ReceiverProcess(url, data_dir / "console.db", secret, process, env, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the receiver stopped at start:\n" + log_path.read_text())
        if receiver.healthy():
            return receiver
        time.sleep(0.2)
    receiver.stop()
    raise RuntimeError("the receiver did not become healthy:\n" + log_path.read_text())
