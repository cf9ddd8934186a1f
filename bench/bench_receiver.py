"""The receiver under load, against a no-op Starlette endpoint on the same server and client.

Both run as `uvicorn` subprocesses on loopback, started with the flags `make run` and docs/deployment.md give
the receiver; the receiver gets a fresh data folder. By default `wrk` drives them with signed events (every
event id distinct), five runs of a fixed duration alternating between the two so that both see the same
background load. Each run prints requests/s and p99 for both, the receiver/no-op ratios, the load average, and
whether every acknowledged (2xx) event is in the database.

`--client python` keeps the older driver: a Python client on the same cores, a fixed number of requests over
32 and then 128 keep-alive connections, with p50 and the servers' CPU per request besides.

Two workloads: `channel` (created, running, quality changed: each event also updates its channel row) and
`no-channel` (events that name no channel or client, so only the event itself is written), which separates
the receiver's own cost from the channel projection's.

`python -m bench receiver [--runs 5] [--seconds 10] [--connections 32] [--threads 2]`
`python -m bench receiver --client python [--requests N] [--rounds R] [--concurrency 32 128] [--workload ...]`
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

from bench.receiver_wrk import EVENTS_PER_THREAD_SECOND, WrkResult, run_wrk, write_event_files, wrk_command
from services.events.signature import SIGNATURE_HEADER, sign_body
from services.stack.commands import RECEIVER_APP, RECEIVER_SERVER_FLAGS

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
NOOP_APP = ("--factory", "bench.bench_receiver:noop_app_factory")
# What `make run` gives uvicorn besides the app and address (services/stack/commands.py), for both servers.
DEPLOYED_FLAGS = ("--no-access-log", "--timeout-graceful-shutdown", "10", *RECEIVER_SERVER_FLAGS)


def noop_app_factory() -> Starlette:
    """The no-op app, started with `--factory` as the receiver is."""
    return noop_app


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


def start_server(
    name: str, app: tuple[str, ...], env: dict[str, str], log_path: Path, flags: tuple[str, ...] = ("--no-access-log",)
) -> Server:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", *app, "--host", HOST, "--port", str(port), *flags]
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


def main_python_client(args: argparse.Namespace) -> int:
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


# -- the wrk driver (the default) -----------------------------------------------------------------------


@dataclass(frozen=True)
class WrkRun:
    number: int
    load_average: float
    noop: WrkResult
    receiver: WrkResult
    stored: int  # this run's receiver events in the database: at least its 2xx count, or events were lost
    # Server CPU per answer (the receiver's includes its writer process): what busy neighbours disturb least.
    noop_cpu_us: float = float("nan")
    receiver_cpu_us: float = float("nan")

    @property
    def throughput_ratio(self) -> float:
        return self.receiver.requests_per_second / self.noop.requests_per_second if self.noop.requests else 0.0

    @property
    def p99_ratio(self) -> float:
        return self.receiver.p99_ms / self.noop.p99_ms if self.noop.p99_ms else float("inf")

    @property
    def lost(self) -> int:
        # wrk stops with requests in flight: those may be stored unanswered, so more stored than acknowledged is fine.
        return max(0, self.receiver.acknowledged - self.stored)

    @property
    def met(self) -> bool:
        return self.throughput_ratio >= 0.6 and self.p99_ratio <= 3


def stored_event_count(db_path: Path, prefix: str) -> int:
    """Events committed under `prefix`, listed or still waiting to be listed."""
    return len(stored_event_ids(db_path, prefix))


def _wrk_target(
    server: Server, secret: str, prefix: str, args: argparse.Namespace, work_dir: Path
) -> tuple[WrkResult, float]:
    """One wrk run against `server`, with events signed and written before it starts; its report, and the
    server's CPU microseconds per answer."""
    count = EVENTS_PER_THREAD_SECOND * args.seconds * args.threads
    events_dir = work_dir / prefix
    write_event_files(list(signed_events(secret, prefix, count)), events_dir, args.threads)
    command = wrk_command(
        f"http://{HOST}:{server.port}{PATH}",
        PATH,
        SIGNATURE_HEADER,
        events_dir,
        threads=args.threads,
        connections=args.connections,
        seconds=args.seconds,
    )
    cpu_before = server.cpu_seconds()
    result, _ = run_wrk(command, timeout=args.seconds + 60)
    cpu_us = (server.cpu_seconds() - cpu_before) / max(1, result.requests) * 1e6
    for events_file in events_dir.iterdir():
        events_file.unlink()  # tens of megabytes a run
    return result, cpu_us


def _wrk_line(label: str, result: WrkResult, cpu_us: float) -> str:
    return (
        f"  {label:<9} {result.requests_per_second:7.0f} requests/s   p99 {result.p99_ms:7.2f} ms   "
        f"server CPU {cpu_us:4.0f} us/request   "
        f"2xx {result.acknowledged:7d}   non-2xx {result.non_2xx}   socket errors {result.socket_errors}"
    )


def _print_wrk_run(run: WrkRun) -> None:
    print(f"run {run.number}: load average {run.load_average:.2f} (1 minute) before it")
    print(_wrk_line("no-op", run.noop, run.noop_cpu_us))
    print(_wrk_line("receiver", run.receiver, run.receiver_cpu_us))
    print(
        f"  ratios    throughput {run.throughput_ratio:.2f}x (target >= 0.6)   p99 {run.p99_ratio:.2f}x (target <= 3)"
        f"   {'met' if run.met else 'MISSED'}   stored {run.stored} of {run.receiver.acknowledged} acknowledged"
        f" ({'ok' if run.lost == 0 else f'{run.lost} LOST'})",
        flush=True,
    )


def main_wrk(args: argparse.Namespace) -> int:
    secret = secrets.token_urlsafe(32)
    print(
        f"receiver benchmark: wrk, {args.threads} threads and {args.connections} connections, {args.runs} runs of "
        f"{args.seconds} s per server, alternating; uvicorn with the deployed flags on loopback; "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    runs: list[WrkRun] = []
    with tempfile.TemporaryDirectory(prefix="receiver-bench-") as folder:
        data_dir = Path(folder)
        env = _bench_env(data_dir, secret)
        noop = start_server("no-op endpoint", NOOP_APP, env, data_dir / "noop.log", DEPLOYED_FLAGS)
        try:
            receiver = start_server("receiver", RECEIVER_APP, env, data_dir / "receiver.log", DEPLOYED_FLAGS)
        except RuntimeError:
            noop.stop()
            raise
        try:
            warmup = argparse.Namespace(**{**vars(args), "seconds": 2})
            for server in (noop, receiver):
                _wrk_target(server, secret, f"warmup-{server.port}", warmup, data_dir)
            for number in range(1, args.runs + 1):
                load = os.getloadavg()[0]
                base, base_cpu = _wrk_target(noop, secret, f"noop-r{number}", args, data_dir)
                durable, durable_cpu = _wrk_target(receiver, secret, f"bench-r{number}", args, data_dir)
                stored = stored_event_count(data_dir / "console.db", f"bench-r{number}-")
                runs.append(WrkRun(number, load, base, durable, stored, base_cpu, durable_cpu))
                _print_wrk_run(runs[-1])
        finally:
            noop.stop()
            receiver.stop()
    ratios = sorted(run.throughput_ratio for run in runs)
    p99s = sorted(run.p99_ratio for run in runs)
    print(
        f"median of {len(runs)} runs: throughput {statistics.median(ratios):.2f}x, p99 {statistics.median(p99s):.2f}x;"
        f" {sum(run.met for run in runs)} of {len(runs)} runs met the target"
    )
    return 1 if any(run.lost for run in runs) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk", help="load generator (default wrk)")
    wrk = parser.add_argument_group("wrk (the default)")
    wrk.add_argument("--runs", type=int, default=5, help="alternating runs (default 5)")
    wrk.add_argument("--seconds", type=int, default=10, help="seconds per server and run (default 10)")
    wrk.add_argument("--connections", type=int, default=32, help="keep-alive connections (default 32)")
    wrk.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    python = parser.add_argument_group("--client python")
    python.add_argument("--requests", type=int, default=4000, help="requests per target and setting (default 4000)")
    python.add_argument("--rounds", type=int, default=4, help="alternating rounds they are split into (default 4)")
    python.add_argument("--concurrency", type=int, nargs="+", default=[32, 128], help="connections (default 32 128)")
    python.add_argument("--workload", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), help="default: both")
    python.add_argument("--max-seconds", type=float, default=120.0, help="time limit per round (default 120)")
    args = parser.parse_args([] if argv is None else argv)
    return main_wrk(args) if args.client == "wrk" else main_python_client(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
