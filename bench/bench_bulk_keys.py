"""Bulk key generation against a Partner API stub that answers each key POST after 100 ms.

The stub is a real Starlette app on uvicorn on loopback. 200 running channels get a key one by one, then 200
others get one through services.keys.bulk.generate_many. Run alone: `python -m bench bulk_keys`.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.channels.projection import upsert_channel
from services.keys.bulk import DEFAULT_WORKERS, generate_many
from services.keys.generation import generate_key
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi
from services.store import open_console_db
from tests.support.people import person

CHANNELS = 200
LATENCY_SECONDS = 0.1
TARGET_RATIO = 0.2


async def _new_key(request: Request) -> JSONResponse:
    await asyncio.sleep(LATENCY_SECONDS)
    return JSONResponse(
        {"id": "k", "api_key": secrets.token_urlsafe(24), "address": "https://waba.test", "app_id": "a"},
        status_code=201,
    )


def _start_stub() -> tuple[uvicorn.Server, threading.Thread, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = Starlette(
        routes=[Route("/api/v2/partners/{partner}/channels/{channel}/api_keys", _new_key, methods=["POST"])]
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the stub Partner API did not start")
        time.sleep(0.05)
    return server, thread, port


def _seed(db_path: Path, prefix: str) -> list[str]:
    db = open_console_db(db_path)
    ids = [f"{prefix}{index:04d}CH" for index in range(CHANNELS)]
    with db.atomic():
        for channel_id in ids:
            upsert_channel(db, channel_id, {"status": "running"}, source="bench")
    db.close()
    return ids


def main(argv: list[str] | None = None) -> int:
    server, thread, port = _start_stub()
    folder = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    db_path = folder / "console.db"
    api = PartnerApi(f"http://127.0.0.1:{port}/api/v2", "benchPA", api_key="bench-partner-key", timeout=10)
    vault = KeyVault(Fernet.generate_key().decode())
    try:
        serial_ids = _seed(db_path, "one")
        db = open_console_db(db_path)
        started = time.perf_counter()
        for channel_id in serial_ids:
            generate_key(db, api, vault, channel_id, actor=person("bench"))
        serial = time.perf_counter() - started
        db.close()

        bulk_ids = _seed(db_path, "bulk")
        started = time.perf_counter()
        summary = generate_many(lambda: open_console_db(db_path), api, vault, bulk_ids, actor=person("bench"))
        bulk = time.perf_counter() - started
    finally:
        api.close()
        server.should_exit = True
        thread.join(10)
    ratio = bulk / serial
    print(f"one by one: {CHANNELS} keys in {serial:.2f} s ({serial / CHANNELS * 1000:.0f} ms per key)")
    print(
        f"bulk ({DEFAULT_WORKERS} workers): {len(summary.succeeded)} keys, {len(summary.failed)} failures "
        f"in {bulk:.2f} s"
    )
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"ratio bulk / one by one: {ratio:.3f}x (target <= {TARGET_RATIO}x) {verdict}")
    return 0


if __name__ == "__main__":
    main()
