"""`wrk` driving the receiver benchmark: a load generator in C, so the client costs the servers little CPU.

Python signs the events beforehand (wrk has no HMAC) into one file per wrk thread; receiver_events.lua sends
each once. wrk's own report gives requests/s, the p99 (`--latency`) and how many answers were not 2xx or 3xx.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).resolve().parent / "receiver_events.lua"
# Events prepared per wrk thread and second of the run: well above what one thread gets from either server on
# loopback, since running out would send an event twice.
EVENTS_PER_THREAD_SECOND = 10_000
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class WrkMissing(RuntimeError):
    """wrk is not installed: `make wrk` installs Debian's package."""


@dataclass(frozen=True)
class WrkResult:
    requests: int  # answers read in the run, whatever their status
    non_2xx: int  # answers that were not 2xx or 3xx (the servers here never send 3xx)
    socket_errors: int
    requests_per_second: float
    p99_ms: float

    @property
    def acknowledged(self) -> int:
        return self.requests - self.non_2xx


def wrk_command(
    url: str, path: str, signature_header: str, events_dir: Path, *, threads: int, connections: int, seconds: int
) -> list[str]:
    """The wrk command line: the script reads its path, header name and events folder after `--`."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkMissing("wrk is not installed; `make wrk` installs it")
    return [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--latency",
        f"--script={LUA_SCRIPT}",
        url,
        "--",
        path,
        signature_header,
        str(events_dir),
    ]


def write_event_files(events: list[tuple[str, bytes, str]], events_dir: Path, threads: int) -> None:
    """One file per wrk thread, a line per event: "<signature>\\t<body>" (JSON bodies hold no raw tab or newline)."""
    events_dir.mkdir(parents=True, exist_ok=True)
    for thread in range(threads):
        lines = (f"{signature}\t{body.decode()}\n" for _, body, signature in events[thread::threads])
        (events_dir / f"events-{thread}.txt").write_text("".join(lines))


def _milliseconds(figure: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", figure).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]


def _count(pattern: str, output: str) -> int:
    match = re.search(pattern, output)
    return int(match.group(1)) if match else 0


def parse_wrk_output(output: str) -> WrkResult:
    """Read wrk's report; a run that printed no total (wrk failed) raises ValueError."""
    total = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s*([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE)
    if not (total and rate and p99):
        raise ValueError("not a wrk report with --latency")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(total.group(1)),
        non_2xx=_count(r"Non-2xx or 3xx responses: (\d+)", output),
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        requests_per_second=float(rate.group(1)),
        p99_ms=_milliseconds(p99.group(1)),
    )


def run_wrk(command: list[str], timeout: float) -> tuple[WrkResult, str]:
    """Run wrk; its report parsed, and the report itself (kept for the log)."""
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited with {completed.returncode}:\n{output}")
    return parse_wrk_output(output), output
