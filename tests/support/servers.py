"""Real servers for tests: free loopback ports, waiting for a condition, and an ASGI app on uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import uvicorn
from starlette.applications import Starlette

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout: float = 90, interval: float = 0.2) -> T:
    """Call `predicate` until it returns something true, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@contextmanager
def uvicorn_in_thread(app: Starlette, port: int, *, start_timeout: float = 30) -> Iterator[uvicorn.Server]:
    """Lifespan included, so start-up and shutdown work (the hub's delivery loop, the receiver's drain) run too."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serving(app: Starlette, port: int) -> Iterator[str]:
    """Run `app` on `port` until the block ends; the block gets the server's base URL."""
    with uvicorn_in_thread(app, port):
        yield f"http://127.0.0.1:{port}"
