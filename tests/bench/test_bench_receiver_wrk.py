"""The receiver benchmark's wrk driver: the command line, the Lua script against a real server, wrk's report read,
and a run's verdict on lost events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.bench_receiver import PATH, WrkRun, signed_events
from bench.receiver_wrk import (
    EVENTS_PER_THREAD_SECOND,
    LUA_SCRIPT,
    WrkResult,
    parse_wrk_output,
    run_wrk,
    write_event_files,
    wrk_command,
)
from services.events.signature import SIGNATURE_HEADER, verify_signature
from tests.support.servers import free_port, uvicorn_in_thread

SECRET = "bench-test-secret"

# A real report: `wrk -t2 -c8 -d1s --latency` against the no-op app on a path it does not serve.
WRK_REPORT = """\
Running 1s test @ http://127.0.0.1:18765/nope
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.01ms  216.90us   3.44ms   77.61%
    Req/Sec     3.96k   584.91     4.47k    70.00%
  Latency Distribution
     50%    0.91ms
     75%    1.14ms
     90%    1.34ms
     99%    1.49ms
  7900 requests in 1.00s, 1.12MB read
  Non-2xx or 3xx responses: 7900
Requests/sec:   7882.70
Transfer/sec:      1.12MB
"""


def test_wrk_report_is_read_with_its_p99_and_refusals() -> None:
    result = parse_wrk_output(WRK_REPORT)

    assert result == WrkResult(requests=7900, non_2xx=7900, socket_errors=0, requests_per_second=7882.70, p99_ms=1.49)
    assert result.acknowledged == 0


def test_wrk_report_reads_socket_errors_and_latency_in_other_units() -> None:
    report = WRK_REPORT.replace("99%    1.49ms", "99%  850.00us").replace(
        "  Non-2xx or 3xx responses: 7900\n", "  Socket errors: connect 0, read 2, write 0, timeout 3\n"
    )

    result = parse_wrk_output(report)

    assert (result.p99_ms, result.non_2xx, result.socket_errors, result.acknowledged) == (0.85, 0, 5, 7900)


def test_output_without_a_report_is_refused() -> None:
    with pytest.raises(ValueError, match="not a wrk report"):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_command_runs_the_script_with_its_arguments_after_the_url(tmp_path: Path) -> None:
    command = wrk_command(
        "http://127.0.0.1:1/webhooks", "/webhooks", "x-sig", tmp_path, threads=2, connections=16, seconds=7
    )

    assert Path(command[0]).name == "wrk"
    assert {"--threads=2", "--connections=16", "--duration=7s", "--latency", f"--script={LUA_SCRIPT}"} <= set(command)
    assert LUA_SCRIPT.is_file()
    assert command[-5:] == ["http://127.0.0.1:1/webhooks", "--", "/webhooks", "x-sig", str(tmp_path)]


def test_each_wrk_thread_gets_its_own_share_of_the_events(tmp_path: Path) -> None:
    events = list(signed_events(SECRET, "evt", 5))

    write_event_files(events, tmp_path, threads=2)

    lines = [line for n in (0, 1) for line in (tmp_path / f"events-{n}.txt").read_text().splitlines()]
    assert sorted(lines) == sorted(f"{signature}\t{body.decode()}" for _, body, signature in events)
    assert len((tmp_path / "events-0.txt").read_text().splitlines()) == 3


def _run(acknowledged: int, stored: int, receiver_p99_ms: float = 6.0) -> WrkRun:
    noop = WrkResult(requests=7000, non_2xx=0, socket_errors=0, requests_per_second=700.0, p99_ms=2.0)
    receiver = WrkResult(
        requests=acknowledged + 4, non_2xx=4, socket_errors=0, requests_per_second=420.0, p99_ms=receiver_p99_ms
    )
    return WrkRun(1, 0.5, noop, receiver, stored)


def test_a_run_counts_acknowledged_events_missing_from_the_database_as_lost() -> None:
    assert _run(acknowledged=100, stored=97).lost == 3
    assert _run(acknowledged=100, stored=102).lost == 0  # stored but answered after wrk stopped: not lost


def test_a_run_meets_the_target_at_0_6x_throughput_and_3x_p99_and_not_beyond() -> None:
    assert _run(acknowledged=100, stored=100).met
    assert not _run(acknowledged=100, stored=100, receiver_p99_ms=6.1).met


@pytest.mark.processes  # a real server on uvicorn
def test_the_script_sends_each_prepared_event_once_signed(tmp_path: Path) -> None:
    received: list[str] = []

    async def record(request: Request) -> JSONResponse:
        body = await request.body()
        if verify_signature(body, request.headers.get(SIGNATURE_HEADER), SECRET):  # a reason: refused
            return JSONResponse({"error": "bad signature"}, status_code=401)
        received.append(json.loads(body)["id"])
        return JSONResponse({"stored": 1})

    write_event_files(list(signed_events(SECRET, "evt", EVENTS_PER_THREAD_SECOND * 2)), tmp_path, threads=2)
    port = free_port()
    with uvicorn_in_thread(Starlette(routes=[Route(PATH, record, methods=["POST"])]), port):
        command = wrk_command(
            f"http://127.0.0.1:{port}{PATH}", PATH, SIGNATURE_HEADER, tmp_path, threads=2, connections=4, seconds=1
        )
        result, _ = run_wrk(command, timeout=60)

    assert result.requests > 0
    assert result.non_2xx == 0  # every signature good
    assert len(received) == len(set(received)) >= result.acknowledged  # none twice
