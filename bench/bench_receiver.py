"""The receiver under load, against a no-op Starlette endpoint on the same server and client.

Both run as `uvicorn` subprocesses on loopback; the receiver gets a fresh data folder. Each is driven with
signed events (every event id distinct) by a fixed number of requests over 32 and then 128 keep-alive
connections, in rounds that alternate between the two so that both see the same background load. Prints
events/s, p50 and p99 for both, the receiver/no-op ratios, and how many acknowledged events are in the
database afterwards.

Two workloads: `channel` (created, running, quality changed: each event also updates its channel row) and
`no-channel` (events that name no channel or client, so only the event itself is written), which separates
the receiver's own cost from the channel projection's.

`python -m bench receiver [--requests N] [--rounds R] [--concurrency 32 128] [--workload channel no-channel]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.events.signature import SIGNATURE_HEADER, sign_body
from services.stack.commands import RECEIVER_APP

ROOT = Path(__file__).resolve().parent.parent
PATH = "/webhooks/360dialog"
HOST = "127.0.0.1"
WARMUP_REQUESTS = 200
EVENT_CYCLE = (
    ("channel_created", {"status": "pending"}),
    ("channel_running", {"status": "running"}),
    ("phone_number_quality_changed", {"current_quality_rating": "GREEN", "current_limit": "TIER_1K"}),
)
NO_CHANNEL_CYCLE = (
    ("account_violation", {"violation_type": "SCAM", "waba_id": "waba-1"}),
    ("template_messaging_enabled", {"waba_id": "waba-1"}),
)
WORKLOADS = ("channel", "no-channel")


# -- the no-op endpoint: reads the body and answers, nothing else ---------------------------------------


async def _noop(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"ok": True})


async def _noop_health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


noop_app = Starlette(routes=[Route(PATH, _noop, methods=["POST"]), Route("/healthz", _noop_health)])


# -- the load client: one keep-alive connection per worker, each request built before the clock starts ----
# The client shares the machine with the servers, so it must cost as little as it can: an asyncio protocol
# that sends prepared bytes and reads each response only as far as its status, its length and its end.


@dataclass
class RunResult:
    latencies: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1


@dataclass(frozen=True)
class Job:
    event_id: str
    request: bytes  # the whole HTTP request: a signed event, as 360dialog would send it


def signed_events(secret: str, prefix: str, count: int, workload: str = "channel") -> Iterator[tuple[str, bytes, str]]:
    """Partner webhooks as 360dialog sends them: a channel created, running, then its quality changed."""
    cycle = EVENT_CYCLE if workload == "channel" else NO_CHANNEL_CYCLE
    for number in range(count):
        name, data = cycle[number % len(cycle)]
        event_id = f"{prefix}-{number}"
        if workload == "channel":
            data = {"id": f"{prefix}-ch-{number // len(cycle)}", "client_id": f"{prefix}-cl", **data}
        body = json.dumps({"id": event_id, "event": name, "data": data}).encode()
        yield event_id, body, sign_body(body, secret)


def signed_jobs(secret: str, prefix: str, count: int, workload: str = "channel") -> list[Job]:
    return [
        Job(
            event_id,
            (
                f"POST {PATH} HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{SIGNATURE_HEADER}: {signature}\r\n\r\n"
            ).encode()
            + body,
        )
        for event_id, body, signature in signed_events(secret, prefix, count, workload)
    ]


class KeepAliveConnection(asyncio.Protocol):
    """Sends the next job as soon as the previous response is complete, from the read callback itself: no
    task switch per request. A response ends after its Content-Length bytes (the servers here always send
    one). `finished` resolves when the jobs run out or the connection ends (then the worker reconnects)."""

    def __init__(self, jobs: Iterator[Job], result: RunResult, deadline: float) -> None:
        self._jobs = jobs
        self._result = result
        self._deadline = deadline
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._job: Job | None = None
        self._started = 0.0
        self.finished: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._job is not None:
            self._result.fail("ConnectionResetError")
            self._job = None
        if not self.finished.done():
            self.finished.set_result(True)  # the jobs may not have run out: reconnect

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._job is None:
            return  # nothing was asked: an early close announcement at most, read with the next response
        try:
            response = self._take_response()
        except (ValueError, IndexError, KeyError) as error:
            self._result.fail(f"unreadable response ({type(error).__name__})")
            self._job = None
            self._transport.close()  # type: ignore[union-attr]
            return
        if response is None:
            return
        status, server_closes = response
        self._result.latencies.append(time.perf_counter() - self._started)
        if 200 <= status < 300:
            self._result.acknowledged.append(self._job.event_id)  # type: ignore[union-attr]
        else:
            self._result.fail(f"HTTP {status}")
        self._job = None
        if server_closes:
            self._transport.close()  # type: ignore[union-attr]
        else:
            self._send_next()

    def _send_next(self) -> None:
        job = next(self._jobs, None)
        if job is not None and time.monotonic() > self._deadline:
            self._result.fail("time limit")
            job = None
        if job is None:
            self._transport.close()  # type: ignore[union-attr]
            if not self.finished.done():
                self.finished.set_result(False)
            return
        self._job = job
        self._started = time.perf_counter()
        self._transport.write(job.request)  # type: ignore[union-attr]

    def _take_response(self) -> tuple[int, bool] | None:
        head_end = self._buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        status_line, *header_lines = bytes(self._buffer[:head_end]).decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        if version != "HTTP/1.1":
            raise ValueError(version)
        headers = {name.strip().lower(): value.strip() for name, value in (h.split(":", 1) for h in header_lines)}
        end = head_end + 4 + int(headers["content-length"])
        if len(self._buffer) < end:
            return None
        del self._buffer[:end]
        return int(status), headers.get("connection", "").lower() == "close"


async def _worker(port: int, jobs: Iterator[Job], result: RunResult, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    reconnect = True
    while reconnect:
        try:
            _, connection = await loop.create_connection(
                lambda: KeepAliveConnection(jobs, result, deadline), HOST, port
            )
        except OSError as error:
            result.fail(type(error).__name__)
            return
        reconnect = await connection.finished


async def _drive(port: int, jobs: list[Job], concurrency: int, max_seconds: float, result: RunResult) -> None:
    queue = iter(jobs)
    deadline = time.monotonic() + max_seconds
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(_worker(port, queue, result, deadline) for _ in range(concurrency)))
    result.elapsed += time.perf_counter() - started
    result.client_cpu += time.process_time() - cpu_started


def drive(server: Server, jobs: list[Job], concurrency: int, max_seconds: float, result: RunResult) -> RunResult:
    """Send every job over `concurrency` keep-alive connections; adds to `result` (several rounds pool)."""
    cpu_before = server.cpu_seconds()
    asyncio.run(_drive(server.port, jobs, concurrency, max_seconds, result))
    result.server_cpu += server.cpu_seconds() - cpu_before
    return result


# -- the servers ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _process_tree(pid: int) -> list[int]:
    """The process and its descendants, as Linux lists them in /proc/PID/task/TID/children."""
    tree = [pid]
    for process in tree:
        for task in Path(f"/proc/{process}/task").glob("*"):
            try:
                tree.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return tree


def _process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # already gone: its time is lost to the count
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int

    def cpu_seconds(self) -> float:
        """CPU time the server and the processes it started (the receiver's writer) have used so far (Linux),
        a measure the neighbours' load hardly moves."""
        return sum(_process_cpu_seconds(pid) for pid in _process_tree(self.process.pid))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(name: str, app: tuple[str, ...], env: dict[str, str], log_path: Path) -> Server:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", *app, "--host", HOST, "--port", str(port), "--no-access-log"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {name} stopped at start; see {log_path}")
        try:
            if requests.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                return Server(name, process, port)
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the {name} did not answer its health check; see {log_path}")


def stored_event_ids(db_path: Path, prefix: str) -> set[str]:
    """Events committed: listed, or acknowledged and still waiting to be listed (the receiver lists all it
    has before it exits, so the second part is empty unless listing failed)."""
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "select dedupe_key from events where dedupe_key like :prefix"
            " union all select dedupe_key from incoming_events where dedupe_key like :prefix",
            {"prefix": f"id:{prefix}%"},
        ).fetchall()
    conn.close()
    return {key.removeprefix("id:") for (key,) in rows}


# -- the report ----------------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True)
class Summary:
    events_per_second: float
    p50_ms: float
    p99_ms: float
    acknowledged: int
    failures: dict[str, int]
    client_cpu_share: float
    server_cpu_us: float

    @classmethod
    def of(cls, result: RunResult) -> Summary:
        return cls(
            events_per_second=len(result.acknowledged) / result.elapsed if result.elapsed else 0.0,
            p50_ms=statistics.median(result.latencies) * 1000 if result.latencies else float("nan"),
            p99_ms=_percentile(result.latencies, 0.99) * 1000,
            acknowledged=len(result.acknowledged),
            failures=result.failures,
            client_cpu_share=result.client_cpu / result.elapsed if result.elapsed else 0.0,
            server_cpu_us=result.server_cpu / len(result.latencies) * 1e6 if result.latencies else float("nan"),
        )


def _line(label: str, summary: Summary) -> str:
    failures = ", ".join(f"{name}: {count}" for name, count in sorted(summary.failures.items())) or "none"
    return (
        f"  {label:<9} {summary.events_per_second:7.0f} events/s   p50 {summary.p50_ms:7.2f} ms   "
        f"p99 {summary.p99_ms:7.2f} ms   server CPU {summary.server_cpu_us:5.0f} us/request   "
        f"acknowledged {summary.acknowledged:6d}   load client {summary.client_cpu_share:4.0%} of a core   "
        f"failures: {failures}"
    )


def _bench_env(data_dir: Path, secret: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "D360_PLATFORM_SECRET": secret,
    }
    for key in ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD", "RECEIVER_AUTH_HEADER_NAME"):
        env.pop(key, None)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per target and setting (default 4000)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds they are split into (default 4)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 128], help="connections (default 32 128)")
    parser.add_argument("--workload", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), help="default: both")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time limit per round (default 120)")
    args = parser.parse_args([] if argv is None else argv)

    secret = secrets.token_urlsafe(32)
    per_round = max(1, args.requests // args.rounds)
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, int, Summary, Summary]] = []
    acknowledged: list[str] = []
    with tempfile.TemporaryDirectory(prefix="receiver-bench-") as folder:
        data_dir = Path(folder)
        env = _bench_env(data_dir, secret)
        noop = start_server("no-op endpoint", ("bench.bench_receiver:noop_app",), env, data_dir / "noop.log")
        try:
            receiver = start_server("receiver", RECEIVER_APP, env, data_dir / "receiver.log")
        except RuntimeError:
            noop.stop()
            raise
        try:
            for server in (noop, receiver):
                warmup = signed_jobs(secret, f"warmup-{server.port}", WARMUP_REQUESTS)
                drive(server, warmup, 16, 60, RunResult())
            for workload in args.workload:
                for concurrency in args.concurrency:
                    base, durable = RunResult(), RunResult()
                    for round_number in range(args.rounds):
                        prefix = f"bench-{workload}-c{concurrency}-r{round_number}"
                        jobs = signed_jobs(secret, prefix, per_round, workload)  # built and signed before the clock
                        drive(noop, jobs, concurrency, args.max_seconds, base)
                        drive(receiver, jobs, concurrency, args.max_seconds, durable)
                    acknowledged.extend(durable.acknowledged)
                    rows.append((workload, concurrency, Summary.of(base), Summary.of(durable)))
        finally:
            noop.stop()
            receiver.stop()
        stored = stored_event_ids(data_dir / "console.db", "bench-")

    print(
        f"receiver benchmark: {per_round * args.rounds} signed events per target and setting in {args.rounds} "
        f"alternating rounds; uvicorn (h11, asyncio loop) on loopback; {os.cpu_count()} cores, "
        f"load average {load_before:.2f} before the run"
    )
    for workload, concurrency, base, durable in rows:
        throughput_ratio = durable.events_per_second / base.events_per_second if base.events_per_second else 0.0
        p99_ratio = durable.p99_ms / base.p99_ms if base.p99_ms else float("inf")
        met = throughput_ratio >= 0.6 and p99_ratio <= 3
        print(f"{workload} events, {concurrency} connections")
        print(_line("no-op", base))
        print(_line("receiver", durable))
        # What a CPU-bound server would give on an idle machine; steadier than events/s when neighbours load it.
        cpu_ratio = base.server_cpu_us / durable.server_cpu_us if durable.server_cpu_us else float("nan")
        print(
            f"  ratios    throughput {throughput_ratio:.2f}x (target >= 0.6)   p99 {p99_ratio:.2f}x (target <= 3)"
            f"   {'met' if met else 'MISSED'}   no-op/receiver CPU per request {cpu_ratio:.2f}x"
        )
    missing = len(set(acknowledged) - stored)
    print(
        f"stored vs acknowledged: {len(stored)} stored, {len(acknowledged)} acknowledged, "
        f"{missing} acknowledged but not stored ({'ok' if missing == 0 else 'LOST EVENTS'})"
    )
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
