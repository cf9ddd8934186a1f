"""Start every process the settings call for, in order, each once the one before answers its health check; stop
them all on Ctrl-C, SIGTERM or when one of them stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable

import requests
from sqlite_utils import Database

from services.scheduler import status as scheduler_status
from services.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from services.stack.commands import key_health_wanted, scheduler_wanted, services_for
from services.store import open_console_db

STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = READY_TIMEOUT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def wait_until_started(
    settings: Settings,
    process: subprocess.Popen,
    timeout: float = READY_TIMEOUT_SECONDS,
    started: Callable[[Database, int], bool] = scheduler_status.started,
) -> bool:
    """Wait for a process that listens nowhere (the scheduler, key health) to record in the database that it has
    started."""
    db = open_console_db(settings.console_db_path)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if started(db, process.pid):
                return True
            time.sleep(0.2)
        return False
    finally:
        db.close()


def stop_process(process: subprocess.Popen, signum: int = signal.SIGTERM, grace: float = 30) -> int:
    """Ask a process to stop, kill it if it has not within `grace` seconds, and return its exit code."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    try:
        settings = load_settings()
        # Checked here too, so that a live stack with the receiver's settings missing never half-starts.
        load_settings(role="receiver")
        if scheduler_wanted(settings):
            load_settings(role="scheduler")
        if key_health_wanted(settings):
            load_settings(role="key_health")
    except SettingsError as error:
        print(f"console: {error}", file=sys.stderr)
        return 2
    processes: list[subprocess.Popen] = []

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell that starts us in the background would have it ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for service in services_for(settings):
            process = subprocess.Popen(service.command, cwd=PROJECT_ROOT)
            processes.append(process)
            if service.health_url is None:
                ready = wait_until_started(settings, process, started=service.started)
            else:
                ready = wait_until_healthy(service.health_url, process)
            if not ready:
                print(f"console: the {service.name} did not start; see its messages above", file=sys.stderr)
                return 1
        mode = "demo mode, sandbox hub at " + settings.sandbox_url if settings.demo_mode else "live mode"
        print(f"\n  Console ready ({mode}).\n  Open {settings.public_url}\n  Ctrl-C stops everything.\n", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("console: a process stopped unexpectedly; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nconsole: stopping", flush=True)
        return 0
    finally:
        stop_all(processes)
