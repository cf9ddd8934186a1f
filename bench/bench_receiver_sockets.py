"""The receiver under a flood of idle and half-sent connections from one address, as `make run` starts it.

Opens `--idle` connections that send nothing and `--half-sent` that send part of a request head, all from
loopback, then sends `--deliveries` signed webhooks one after another while they are held open. Prints each
delivery's status and latency, and when the receiver closed the held connections (at once when they gave
way to newer ones, or at the request-head deadline).

`python -m bench receiver_sockets [--idle 300] [--half-sent 30] [--deliveries 20] [--http h11]`
"""

from __future__ import annotations

import argparse
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.bench_receiver import HOST, PATH, _bench_env, _free_port
from services.events.signature import SIGNATURE_HEADER, sign_body
from services.stack.commands import RECEIVER_APP, RECEIVER_PROTOCOL, RECEIVER_SERVER_FLAGS
from services.stack.supervisor import stop_process

ROOT = Path(__file__).resolve().parent.parent
HALF_SENT_HEAD = b"POST /webhooks/360dialog HTTP/1.1\r\nHost: receiver\r\nContent-Type: app"
WAIT_FOR_CLOSE_SECONDS = 30.0


def receiver_flags(http: str) -> list[str]:
    flags = list(RECEIVER_SERVER_FLAGS)
    flags[flags.index("--http") + 1] = http
    return flags


def start_receiver(data_dir: Path, secret: str, http: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", *RECEIVER_APP, "--host", HOST, "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", *receiver_flags(http)]
    log = (data_dir / "receiver.log").open("w")
    env = {**_bench_env(data_dir, secret), "CONSOLE_MODE": "live", "CONSOLE_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://{HOST}:{port}/healthz", timeout=1).ok:
                return process, port
        except requests.RequestException:
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"the receiver did not start; see {data_dir / 'receiver.log'}")


def hold(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    held = []
    for _ in range(count):
        sock = socket.create_connection((HOST, port), timeout=10)
        if first_bytes:
            sock.sendall(first_bytes)
        held.append(sock)
    return held


def deliver(port: int, secret: str, count: int) -> list[tuple[int, float]]:
    """Signed webhooks, each over a new connection (as 360dialog's first delivery after a pause)."""
    answers = []
    for number in range(count):
        body = f'{{"id": "bench-flood-{number}", "event": "account_violation", "data": {{}}}}'.encode()
        headers = {SIGNATURE_HEADER: sign_body(body, secret), "content-type": "application/json"}
        started = time.perf_counter()
        try:
            status = requests.post(f"http://{HOST}:{port}{PATH}", data=body, headers=headers, timeout=10).status_code
        except requests.RequestException:
            status = 0
        answers.append((status, time.perf_counter() - started))
    return answers


def close_times(held: list[socket.socket], since: float) -> dict[socket.socket, float]:
    """Seconds after `since` at which the receiver closed each socket; those still open are left out."""
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in held:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = since + WAIT_FOR_CLOSE_SECONDS
        while len(closed) < len(held) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                try:
                    ended = not key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    ended = True
                if ended:
                    closed[key.fileobj] = time.monotonic() - since
                    selector.unregister(key.fileobj)
    return closed


def _spread(label: str, seconds: list[float], total: int) -> str:
    if not seconds:
        return f"  {label}: none of {total} closed within {WAIT_FOR_CLOSE_SECONDS:g} s"
    return (
        f"  {label}: {len(seconds)} of {total} closed; after min {min(seconds):.2f} s, "
        f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench receiver_sockets", description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=300, help="connections that send nothing (default 300)")
    parser.add_argument("--half-sent", type=int, default=30, help="connections that send half a head (default 30)")
    parser.add_argument("--deliveries", type=int, default=20, help="signed webhooks sent meanwhile (default 20)")
    parser.add_argument("--http", default=RECEIVER_PROTOCOL, help="uvicorn --http (h11: uvicorn's own protocol)")
    args = parser.parse_args(argv)
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as folder:
        process, port = start_receiver(Path(folder), secret, args.http)
        try:
            opened = time.monotonic()
            idle = hold(port, args.idle, b"")
            half_sent = hold(port, args.half_sent, HALF_SENT_HEAD)
            time.sleep(0.5)
            answers = deliver(port, secret, args.deliveries)
            # What closed before this point gave way to newer connections; its time reads as this one.
            delivered = time.monotonic() - opened
            closed = close_times([*idle, *half_sent], opened)
        finally:
            for sock in [*idle, *half_sent]:
                sock.close()
            stop_process(process)
    latencies = sorted(seconds * 1000 for _, seconds in answers)
    answered = sum(1 for status, _ in answers if 200 <= status < 300)
    print(
        f"receiver ({' '.join(receiver_flags(args.http))}), {args.idle} idle + {args.half_sent} half-sent from {HOST}"
    )
    print(
        f"  signed webhooks while they were held: {answered} of {len(answers)} answered 2xx "
        f"(statuses {sorted({status for status, _ in answers})}), "
        f"p50 {statistics.median(latencies):.1f} ms, max {latencies[-1]:.1f} ms"
    )
    gave_way = sum(1 for seconds in closed.values() if seconds <= delivered + 0.05)
    print(f"  closed before the deliveries ended (gave way to newer connections): {gave_way}")
    print(_spread("idle", [closed[sock] for sock in idle if sock in closed], args.idle))
    print(_spread("half-sent", [closed[sock] for sock in half_sent if sock in closed], args.half_sent))
    return 0 if answered == len(answers) and len(closed) == args.idle + args.half_sent else 1
