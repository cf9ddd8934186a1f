"""What the benchmarks share: a stand-in server in a process of its own, started on a free loopback port and waited
for through its `/healthz`; and a measurement in a fresh process of its own, which prints its numbers as JSON on
its last line."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STUB_START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def serve_stub(app: Any, port: int) -> None:
    """Serve `app` here until stopped: what `python -m bench.<name> --stub PORT` runs."""
    import uvicorn

    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


def start_stub(module: str, what: str) -> tuple[subprocess.Popen, int]:
    """Run `python -m <module> --stub PORT` on a free port and wait until its /healthz answers 200; exits naming
    `what` when it stops or does not answer in time."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, "--stub", str(port)], cwd=ROOT)
    waiting = Retrying(
        retry=retry_if_exception_type(requests.RequestException),
        stop=stop_after_delay(STUB_START_SECONDS),
        wait=wait_fixed(0.1),
        reraise=True,
    )
    try:
        for attempt in waiting:
            with attempt:
                _answering(process, f"http://{HOST}:{port}/healthz", what)
    except requests.RequestException:
        process.kill()
        raise SystemExit(f"the {what} did not start") from None
    return process, port


@contextmanager
def running_stub(module: str, what: str) -> Iterator[int]:
    """A stub started by `start_stub` for the block, then stopped; yields its port."""
    process, port = start_stub(module, what)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _answering(process: subprocess.Popen, url: str, what: str) -> None:
    if process.poll() is not None:
        raise SystemExit(f"the {what} stopped at start")
    response = requests.get(url, timeout=1)
    if response.status_code != 200:
        raise requests.HTTPError(f"{url} answered {response.status_code}")


def measured_in_subprocess(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m <module> ARGS` in a fresh process and read the JSON it printed last."""
    output = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def max_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux counts ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
