"""The real receiver app on a real uvicorn server (in a thread), plus signed requests and database reads."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import uvicorn

from services.events.signature import SIGNATURE_HEADER, sign_body
from services.receiver.server import WEBHOOK_PATH, create_app
from services.settings import Settings, load_settings
from tests.stack_process import free_port
from tests.uvicorn_thread import uvicorn_in_thread

SECRET = "test-platform-secret-0123456789"
# Stored means committed: listed in `events`, or acknowledged and waiting in `incoming_events` to be listed.
# One statement, so both tables are read as of one moment even while the writer moves events across.
STORED_KEYS_SQL = """
    select dedupe_key from (
        select dedupe_key, 0 as incoming, id from events union all select dedupe_key, 1, id from incoming_events
    ) order by incoming, id
"""


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
    env = {
        "CONSOLE_DATA_DIR": str(data_dir),
        "D360_PLATFORM_SECRET": SECRET,
        "RECEIVER_DB_TIMEOUT_SECONDS": "0.5",
        **overrides,
    }
    return load_settings(env=env, secrets_path=data_dir / "no-secrets.toml")


def event_body(event_id: str | None = "evt-1", name: str = "channel_created", **data: object) -> bytes:
    event: dict[str, object] = {"event": name, "data": {"id": "ch-1", "client_id": "cl-1", **data}}
    if event_id is not None:
        event["id"] = event_id
    return json.dumps(event).encode()


def signed_headers(body: bytes, secret: str = SECRET, prefix: str = "") -> dict[str, str]:
    return {SIGNATURE_HEADER: prefix + sign_body(body, secret), "content-type": "application/json"}


@dataclass
class RunningReceiver:
    settings: Settings
    url: str
    server: uvicorn.Server

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    @property
    def db_path(self) -> Path:
        return self.settings.console_db_path

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(self.webhook_url, data=body, headers=headers or signed_headers(body), timeout=30)

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
def running_receiver(settings: Settings) -> Iterator[RunningReceiver]:
    """Serve create_app(settings) with uvicorn on a free loopback port; stopping runs the lifespan shutdown."""
    port = free_port()
    with uvicorn_in_thread(create_app(settings), port) as server:
        yield RunningReceiver(settings, f"http://127.0.0.1:{port}", server)
