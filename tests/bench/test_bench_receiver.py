"""The receiver benchmark's load client against a real uvicorn server: every answer is read and counted."""

from __future__ import annotations

import json
import os
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.bench_receiver import PATH, Job, RunResult, Server, signed_jobs
from bench.bench_receiver import drive as bench_drive
from services.events.signature import SIGNATURE_HEADER, verify_signature
from tests.support.servers import free_port, uvicorn_in_thread

pytestmark = pytest.mark.processes  # a real server on uvicorn

SECRET = "bench-test-secret"
REFUSED_EVERY = 5


async def _answer(request: Request) -> JSONResponse:
    body = await request.body()
    if verify_signature(body, request.headers.get(SIGNATURE_HEADER), SECRET):
        return JSONResponse({"error": "bad signature"}, status_code=401)
    number = int(json.loads(body)["id"].rsplit("-", 1)[1])
    if number % REFUSED_EVERY == 0:
        # A refusal that also ends the connection: the client must count it and carry on over a new one.
        return JSONResponse({"error": "busy"}, status_code=503, headers={"connection": "close"})
    return JSONResponse({"stored": 1, "duplicates": 0})


def drive(server: Server, jobs: list[Job], **options: object) -> RunResult:
    """The bench's drive, on a thread of its own: Playwright's sync API may hold an event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(bench_drive, server, jobs, **options).result()


def _this_process_on(port: int) -> Server:
    return Server("test server", types.SimpleNamespace(pid=os.getpid()), port)


@pytest.fixture
def server() -> Iterator[Server]:
    port = free_port()
    with uvicorn_in_thread(Starlette(routes=[Route(PATH, _answer, methods=["POST"])]), port):
        yield _this_process_on(port)


def test_every_request_is_answered_once_and_counted_by_status(server: Server) -> None:
    jobs = signed_jobs(SECRET, "evt", 60)

    result = drive(server, jobs, concurrency=8, max_seconds=60, result=RunResult())

    expected_refusals = [job.event_id for job in jobs if int(job.event_id.rsplit("-", 1)[1]) % REFUSED_EVERY == 0]
    assert sorted(result.acknowledged) == sorted({job.event_id for job in jobs} - set(expected_refusals))
    assert result.failures == {"HTTP 503": len(expected_refusals)}
    assert len(result.latencies) == len(jobs)
    assert all(latency > 0 for latency in result.latencies)
    assert result.elapsed > 0


def test_results_of_several_rounds_add_up(server: Server) -> None:
    result = RunResult()
    for round_number in range(2):
        drive(server, signed_jobs(SECRET, f"round{round_number}", 9), concurrency=3, max_seconds=60, result=result)

    assert len(result.latencies) == 18
    assert result.failures == {"HTTP 503": 4}  # numbers 0 and 5 of each round


def test_a_server_that_is_not_there_is_a_failure_not_a_hang() -> None:
    absent = _this_process_on(free_port())

    result = drive(absent, signed_jobs(SECRET, "evt", 4), concurrency=2, max_seconds=10, result=RunResult())

    assert result.acknowledged == []
    assert result.failures == {"ConnectionRefusedError": 2}
