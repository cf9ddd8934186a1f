"""Start the dashboard, the receiver, the scheduler (when it syncs or alerts), key health (unless it is off) and, in
demo mode, the sandbox hub; Ctrl-C stops them all.

`python -m services.stack` (the README's run command calls it).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from sqlite_utils import Database

from services.addresses import Network
from services.keys.health import status as key_health_status
from services.scheduler import status as scheduler_status
from services.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from services.store import open_console_db

STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
RECEIVER_KEEP_ALIVE_SECONDS = 5
RECEIVER_MAX_CONNECTIONS = 256
RECEIVER_PROTOCOL = "services.receiver.connections:GuardedProtocol"
RECEIVER_SERVER_FLAGS = (
    # A request head must arrive within RECEIVER_KEEP_ALIVE_SECONDS of connecting or of the previous answer,
    # and idle connections give way to new ones once the server is full (services/receiver/connections.py).
    "--http",
    RECEIVER_PROTOCOL,
    "--timeout-keep-alive",
    str(RECEIVER_KEEP_ALIVE_SECONDS),
    "--limit-concurrency",
    str(RECEIVER_MAX_CONNECTIONS),
    # The receiver reads X-Forwarded-For itself, from CONSOLE_TRUSTED_PROXIES only (services/addresses.py).
    "--no-proxy-headers",
)


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    # None for a process that listens nowhere (the scheduler, key health): it says in the database that it has
    # started, which `started` reads.
    health_url: str | None
    started: Callable[[Database, int], bool] = scheduler_status.started


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def scheduler_wanted(settings: Settings) -> bool:
    """The scheduler runs when it has something to do: sync with the Partner API, or send alerts."""
    return settings.sync_minutes > 0 or settings.alerts.enabled


def key_health_wanted(settings: Settings) -> bool:
    """Key health runs unless CONSOLE_KEY_HEALTH_MINUTES = 0."""
    return settings.key_health.enabled


def _uvicorn(settings: Settings, python: str) -> list[str]:
    return [
        python,
        "-m",
        "uvicorn",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
        "--log-level",
        settings.log_level.lower(),
    ]


def uvicorn_proxy_flags(trusted_proxies: tuple[Network, ...]) -> list[str]:
    """uvicorn reads X-Forwarded-For from CONSOLE_TRUSTED_PROXIES only: with none, never (its own default
    trusts any loopback peer)."""
    if not trusted_proxies:
        return ["--no-proxy-headers"]
    return ["--proxy-headers", "--forwarded-allow-ips", ",".join(str(network) for network in trusted_proxies)]


def receiver_command(settings: Settings, python: str = sys.executable) -> list[str]:
    """The receiver as `make run` starts it; docs/deployment.md gives the same flags."""
    return [
        *_uvicorn(settings, python),
        "services.receiver:app",
        "--host",
        settings.bind_address,
        "--port",
        str(_port(settings.receiver_url)),
        *RECEIVER_SERVER_FLAGS,
    ]


def services_for(settings: Settings, python: str = sys.executable) -> list[Service]:
    """The processes to run, all listening on CONSOLE_BIND_ADDRESS (this machine only unless it says otherwise)."""
    host = settings.bind_address
    services = [
        Service("receiver", receiver_command(settings, python), f"{settings.receiver_url}/healthz"),
        Service(
            "dashboard",
            [
                python,
                "-m",
                # Streamlit's app inside the console's edge: sources, closed routes, headers (dashboard/server.py).
                "dashboard.server",
                "--server.port",
                str(_port(settings.public_url)),
                "--server.address",
                host,
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--logger.level",
                settings.log_level.lower(),
                # st.login reads [auth] from here: the same file the settings came from.
                "--secrets.files",
                str(settings.secrets_path),
            ],
            f"{settings.public_url}/_stcore/health",
        ),
    ]
    if scheduler_wanted(settings):
        # After the receiver, before the dashboard; its first sync runs as soon as it has started.
        services.insert(1, Service("scheduler", [python, "-m", "services.scheduler"], None))
    if key_health_wanted(settings):
        # Beside the scheduler: the only other process that holds the key-encryption key (the console's).
        position = 2 if scheduler_wanted(settings) else 1
        services.insert(
            position,
            Service("key health", [python, "-m", "services.keys.health"], None, started=key_health_status.started),
        )
    if settings.demo_mode:
        # The browser opens the sandbox's IO pages, so it listens where the dashboard does.
        services.insert(
            0,
            Service(
                "sandbox",
                [
                    *_uvicorn(settings, python),
                    "services.sandbox:app",
                    *uvicorn_proxy_flags(settings.trusted_proxies),
                    "--host",
                    host,
                    "--port",
                    str(_port(settings.sandbox_url)),
                ],
                f"{settings.sandbox_url}/healthz",
            ),
        )
    return services


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


if __name__ == "__main__":
    sys.exit(main())
