"""A flood of redirects over one Streamlit websocket: what it costs in Partner API calls and database growth.

The console runs as `streamlit run dashboard/app.py` does, its Partner API pointed at a loopback server that
counts every request. One websocket (Streamlit's own protocol: a BackMsg `rerun_script` with the query string,
as the browser sends on every rerun) reruns the landing page with N different queries of SIZE bytes, each
rerun waiting for the script to finish. No proxy sees these reruns: only the page's own limits apply.

    python -m bench landing_flood [--queries 100] [--size 7000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 90
RERUN_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class CallCounter:
    """A Partner API stand-in that answers every request with an empty list and counts it."""

    calls: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def answer(request: Request) -> JSONResponse:
            self.calls.append(request.url.path)
            return JSONResponse({"count": 0, "total": 0, "partner_channels": [], "shared_client_numbers": []})

        return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PATCH"])])


@contextlib.contextmanager
def counting_partner_api() -> Iterator[tuple[CallCounter, str]]:
    counter = CallCounter()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(counter.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield counter, f"http://127.0.0.1:{port}/api/v2"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def running_console(data_dir: Path, api_base_url: str) -> Iterator[str]:
    """The console alone (demo mode, so no sign-in is needed to run it), its Partner API at `api_base_url`."""
    port = free_port()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("CONSOLE_", "D360_", "SANDBOX_"))},
        "CONSOLE_MODE": "demo",
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "D360_API_BASE_URL": api_base_url,
        "SANDBOX_URL": f"http://127.0.0.1:{free_port()}",
    }
    command = [
        sys.executable,
        *("-m", "streamlit", "run", "dashboard/app.py"),
        *("--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"),
        *("--browser.gatherUsageStats", "false"),
    ]
    log = (data_dir / "console.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the console did not start:\n" + (data_dir / "console.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _rerun(query_string: str) -> bytes:
    message = BackMsg()
    message.rerun_script.query_string = query_string
    message.rerun_script.page_name = "landing"
    return message.SerializeToString()


def _until_finished(websocket: ClientConnection) -> None:
    deadline = time.monotonic() + RERUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        message = ForwardMsg()
        message.ParseFromString(websocket.recv(timeout=RERUN_TIMEOUT_SECONDS))
        if message.WhichOneof("type") == "script_finished":
            return
    raise TimeoutError("the landing page did not finish a rerun")


def rerun_over_one_websocket(url: str, queries: list[str]) -> list[float]:
    """Rerun the landing page once per query over one websocket; the seconds each rerun took."""
    took = []
    stream = url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(stream, subprotocols=["streamlit"], max_size=None) as websocket:
        for query in queries:
            started = time.perf_counter()
            websocket.send(_rerun(query))
            _until_finished(websocket)
            took.append(time.perf_counter() - started)
    return took


def database_bytes(path: Path) -> int:
    """The database's size once its write-ahead log is folded in: pages in use and free."""
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        db.execute("pragma wal_checkpoint(truncate)")
        return db.execute("pragma page_count").fetchone()[0] * db.execute("pragma page_size").fetchone()[0]


def flood_queries(count: int, size: int) -> list[str]:
    """`count` different redirects, each padded with an unknown parameter to `size` characters."""
    queries = []
    for number in range(count):
        head = f"client=flood{number}CL&channels=%5B%5D&revoked=%5B{secrets.token_hex(4)}%5D&pad="
        queries.append(head + "x" * max(0, size - len(head)))
    return queries


@dataclass(frozen=True)
class FloodResult:
    reruns: int
    partner_api_calls: int
    grown_bytes: int
    stored: int
    dropped: int
    median_rerun_ms: float


def run_flood(count: int, size: int, data_dir: Path) -> FloodResult:
    with counting_partner_api() as (counter, api_url), running_console(data_dir, api_url) as url:
        db_path = data_dir / "console.db"
        # One rerun first, so that the database exists and is migrated before it is measured.
        rerun_over_one_websocket(url, [""])
        before = database_bytes(db_path)
        took = rerun_over_one_websocket(url, flood_queries(count, size))
        grown = database_bytes(db_path) - before
        with contextlib.closing(sqlite3.connect(db_path)) as db:
            stored = db.execute("select count(*) from redirects").fetchone()[0]
            dropped = db.execute("select coalesce(sum(dropped), 0) from redirect_drops").fetchone()[0]
        took.sort()
        return FloodResult(len(took), len(counter.calls), grown, stored, dropped, 1000 * took[len(took) // 2])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench landing_flood")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--size", type=int, default=7000)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        result = run_flood(options.queries, options.size, Path(folder))
    print(
        f"{result.reruns} reruns of {options.size} B over one websocket: {result.partner_api_calls} Partner API "
        f"call(s), database grew {result.grown_bytes / 1024:.1f} KB, {result.stored} stored, {result.dropped} "
        f"dropped, median rerun {result.median_rerun_ms:.0f} ms"
    )
    return 0 if result.partner_api_calls == 0 and result.grown_bytes < 200 * 1024 else 1
