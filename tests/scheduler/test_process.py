"""`python -m services.scheduler` as a real process: it syncs from the sandbox hub on a real port at start and
every interval, survives a Partner API it cannot reach, and stops cleanly on SIGTERM and SIGINT, even in the middle
of a sync."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.channels.sync_runs import recent_runs
from services.scheduler.status import scheduler_status
from tests.support import ROOT
from tests.support.console import LIVE_ENV_KEYS, console_db
from tests.support.sandbox_hub import start_hub
from tests.support.servers import free_port, serving, wait_for

pytestmark = pytest.mark.processes

SYNC_MINUTES = "0.02"  # a run every 1.2 s


def start_scheduler(data_dir: Path, sandbox_url: str, **extra: str) -> subprocess.Popen:
    inherited = {key: value for key, value in os.environ.items() if key not in LIVE_ENV_KEYS}
    env = {
        **inherited,
        "CONSOLE_MODE": "demo",
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "SANDBOX_URL": sandbox_url,
        "CONSOLE_SYNC_MINUTES": SYNC_MINUTES,
        **extra,
    }
    log = (data_dir / "scheduler.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "services.scheduler"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def runs(data_dir: Path) -> list:
    with console_db(data_dir / "console.db") as db:
        return recent_runs(db)


def stop(process: subprocess.Popen, signum: int) -> int:
    process.send_signal(signum)
    return process.wait(timeout=15)


def assert_stopped_cleanly(data_dir: Path) -> None:
    with console_db(data_dir / "console.db") as db:
        state = scheduler_status(db)
        assert state is not None
        assert state.stopped_at is not None
        assert db["sync_lease"].count == 0
    assert "Traceback" not in (data_dir / "scheduler.log").read_text()


def test_it_syncs_from_the_hub_every_interval_and_stops_on_sigterm(data_dir: Path) -> None:
    with ExitStack() as stack:
        hub = start_hub(stack, data_dir)
        onboarded = hub.sandbox.onboard("Acme Bakery", ["+49 151 0000001", "+49 151 0000002"])
        process = start_scheduler(data_dir, hub.url)
        try:
            done = wait_for(lambda: [run for run in runs(data_dir) if run.outcome == "ok"][1:], timeout=60)
        finally:
            code = stop(process, signal.SIGTERM)
    assert code == 0
    assert {(run.trigger, run.operator) for run in done} == {("scheduler", "scheduler")}
    assert all(run.seen >= 2 for run in done)
    with console_db(data_dir / "console.db") as db:
        synced = {row["id"]: row for row in db.query("select * from channels")}
        assert set(onboarded["channel_ids"]) <= set(synced)
        assert {synced[channel]["last_source"] for channel in onboarded["channel_ids"]} == {"partner_api"}
    assert_stopped_cleanly(data_dir)


def test_a_partner_api_it_cannot_reach_is_recorded_each_time_and_sigint_stops_it(data_dir: Path) -> None:
    process = start_scheduler(data_dir, f"http://127.0.0.1:{free_port()}")
    try:
        failed = wait_for(lambda: [run for run in runs(data_dir) if run.outcome == "failed"][1:], timeout=60)
        assert process.poll() is None
    finally:
        code = stop(process, signal.SIGINT)
    assert code == 0
    assert {run.error_kind for run in failed} == {"unreachable"}
    assert all(run.error.startswith("Cannot reach the Partner API at http://127.0.0.1:") for run in failed)
    assert_stopped_cleanly(data_dir)


def test_sigterm_in_the_middle_of_a_sync_records_it_as_interrupted(data_dir: Path) -> None:
    asked = threading.Event()
    release = threading.Event()

    async def slow_channels(request: Request) -> JSONResponse:
        asked.set()
        while not release.is_set():
            await asyncio.sleep(0.05)
        return JSONResponse({"partner_channels": [], "total": 0})

    app = Starlette(routes=[Route("/api/v2/partners/{partner}/channels", slow_channels)])
    port = free_port()
    with serving(app, port) as url:
        process = start_scheduler(data_dir, url)
        try:
            assert asked.wait(60)
            wait_for(lambda: runs(data_dir), timeout=30)
            code = stop(process, signal.SIGTERM)
        finally:
            release.set()
            if process.poll() is None:
                process.kill()
    assert code == 0
    [run] = runs(data_dir)
    assert (run.outcome, run.error_kind) == ("interrupted", "interrupted")
    assert_stopped_cleanly(data_dir)


def test_with_sync_off_it_exits_at_once(data_dir: Path) -> None:
    process = start_scheduler(data_dir, "http://127.0.0.1:9", CONSOLE_SYNC_MINUTES="0", CONSOLE_ALERT_URLS="off")
    assert process.wait(timeout=60) == 0
    assert "automatic sync is off" in (data_dir / "scheduler.log").read_text()
