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

import h11
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.webhook_signature import SIGNATURE_HEADER, sign_body

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


# -- the load client: asyncio streams with h11 framing, one keep-alive connection per worker -------------


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


async def _worker(port: int, jobs: Iterator[tuple[str, bytes, str]], result: RunResult, deadline: float) -> None:
    reader = writer = None
    connection = h11.Connection(h11.CLIENT)
    try:
        for event_id, body, signature in jobs:
            if time.monotonic() > deadline:
                result.fail("time limit")
                return
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
                connection = h11.Connection(h11.CLIENT)
            started = time.perf_counter()
            try:
                status = await _exchange(reader, writer, connection, body, signature)
            except (OSError, h11.ProtocolError, asyncio.IncompleteReadError) as error:
                result.fail(type(error).__name__)
                writer.close()
                writer = None
                continue
            result.latencies.append(time.perf_counter() - started)
            if 200 <= status < 300:
                result.acknowledged.append(event_id)
            else:
                result.fail(f"HTTP {status}")
            if connection.our_state is h11.MUST_CLOSE or connection.their_state is h11.MUST_CLOSE:
                writer.close()
                writer = None
            else:
                connection.start_next_cycle()
    finally:
        if writer is not None:
            writer.close()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: h11.Connection, body: bytes, signature: str
) -> int:
    headers = [
        ("host", HOST),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        (SIGNATURE_HEADER, signature),
    ]
    writer.write(
        connection.send(h11.Request(method="POST", target=PATH, headers=headers))
        + connection.send(h11.Data(data=body))
        + connection.send(h11.EndOfMessage())
    )
    status = 0
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            chunk = await reader.read(65536)
            connection.receive_data(chunk)
            if not chunk and connection.their_state is not h11.DONE:
                raise asyncio.IncompleteReadError(b"", None)
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.EndOfMessage):
            return status


async def _drive(
    port: int, jobs: list[tuple[str, bytes, str]], concurrency: int, max_seconds: float, result: RunResult
) -> None:
    queue = iter(jobs)
    deadline = time.monotonic() + max_seconds
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(_worker(port, queue, result, deadline) for _ in range(concurrency)))
    result.elapsed += time.perf_counter() - started
    result.client_cpu += time.process_time() - cpu_started


def drive(
    server: Server, jobs: list[tuple[str, bytes, str]], concurrency: int, max_seconds: float, result: RunResult
) -> RunResult:
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


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (Linux), a measure the neighbours' load hardly moves."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(name: str, target: str, env: dict[str, str], log_path: Path) -> Server:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", target, "--host", HOST, "--port", str(port), "--no-access-log"]
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
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("select dedupe_key from events where dedupe_key like ?", [f"id:{prefix}%"]).fetchall()
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
        noop = start_server("no-op endpoint", "bench.bench_receiver:noop_app", env, data_dir / "noop.log")
        try:
            receiver = start_server("receiver", "services.receiver:app", env, data_dir / "receiver.log")
        except RuntimeError:
            noop.stop()
            raise
        try:
            for server in (noop, receiver):
                warmup = list(signed_events(secret, f"warmup-{server.port}", WARMUP_REQUESTS))
                drive(server, warmup, 16, 60, RunResult())
            for workload in args.workload:
                for concurrency in args.concurrency:
                    base, durable = RunResult(), RunResult()
                    for round_number in range(args.rounds):
                        prefix = f"bench-{workload}-c{concurrency}-r{round_number}"
                        jobs = list(signed_events(secret, prefix, per_round, workload))  # signed before the clock
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
