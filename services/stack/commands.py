"""What the stack runs: each process's command (the receiver's and the hub's uvicorn flags among them), its health
check, and which processes a mode and the settings call for."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlite_utils import Database

from services.addresses import Network
from services.keys.health import status as key_health_status
from services.scheduler import status as scheduler_status
from services.settings import Settings

RECEIVER_KEEP_ALIVE_SECONDS = 5
RECEIVER_MAX_CONNECTIONS = 256
RECEIVER_PROTOCOL = "services.receiver.connections:GuardedProtocol"
# uvicorn builds each app by calling its factory once it has started, so importing the module reads no settings.
RECEIVER_APP = ("--factory", "services.receiver.server:app_from_settings")
SANDBOX_APP = ("--factory", "services.sandbox.server:app_from_settings")
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
        *RECEIVER_APP,
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
                    *SANDBOX_APP,
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
