"""Real servers for tests: free loopback ports, waiting for a condition, an ASGI app on uvicorn in a thread, and
the guard that fails a test starting a process or a server without the `processes` marker."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
import uvicorn
from starlette.applications import Starlette

T = TypeVar("T")


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port the kernel found free, never one this process handed out before: the probe's socket is closed at
    once, so the kernel may offer the same port again to the next call, before the first server has bound it (a
    stack's three servers once got two of the same)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


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


# -- the `processes` marker, checked ---------------------------------------------------------------------------

MARKERS_FOR_PROCESSES = ("processes", "browser")


class UnmarkedProcess(AssertionError):
    """A test started a process or a server without the marker that keeps it out of the fast loop."""


class MarkerGuard:
    """Fails the test being run when it starts an OS process or listens on a socket (any server: uvicorn, the
    SMTP sink, a bare socket) without being marked `processes` or `browser`. The project starts every process with
    subprocess (the writer, the stack, CLIs; it has no multiprocessing) and every server ends in socket.listen, so
    guarding those two catches them all."""

    def __init__(self) -> None:
        self.test: pytest.Item | None = None

    def check(self, what: str) -> None:
        test = self.test
        if test is not None and not any(test.get_closest_marker(name) for name in MARKERS_FOR_PROCESSES):
            raise UnmarkedProcess(f"{test.nodeid} starts {what}: mark it `processes` (see docs/testing.md)")

    def install(self) -> None:
        popen_init = subprocess.Popen.__init__
        listen = socket.socket.listen
        guard = self

        def guarded_popen_init(popen: subprocess.Popen, *args: Any, **kwargs: Any) -> None:
            guard.check("a process")
            popen_init(popen, *args, **kwargs)

        def guarded_listen(sock: socket.socket, *args: Any) -> None:
            guard.check("a server")
            listen(sock, *args)

        subprocess.Popen.__init__ = guarded_popen_init  # type: ignore[method-assign]
        socket.socket.listen = guarded_listen  # type: ignore[method-assign]


marker_guard = MarkerGuard()
