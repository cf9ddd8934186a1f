"""The README's run command: every real process up (the scheduler too), and Ctrl-C stops all of them."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from services.channels.sync_runs import last_run
from services.keys.health.status import process_status as key_health_process
from services.scheduler.status import scheduler_status
from services.settings import load_settings
from services.stack.commands import RECEIVER_APP, SANDBOX_APP, Service, services_for
from tests.support import ROOT
from tests.support.console import console_db, live_env
from tests.support.servers import wait_for
from tests.support.stack import start_stack

pytestmark = pytest.mark.processes


def test_stack_starts_every_process_and_ctrl_c_stops_them(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    try:
        assert requests.get(f"{stack.receiver_url}/healthz", timeout=5).json()["ok"] is True
        assert requests.get(f"{stack.sandbox_url}/healthz", timeout=5).json()["ok"] is True
        assert requests.get(f"{stack.public_url}/_stcore/health", timeout=5).status_code == 200
        # The scheduler was waited for, and its first sync (at start) reads the sandbox hub.
        with console_db(tmp_path / "console.db") as db:
            assert scheduler_status(db).running
            assert key_health_process(db).running  # waited for like the scheduler
            first = wait_for(lambda: last_run(db, trigger="scheduler"), timeout=30)
        assert first.by == "the scheduler"
    finally:
        code = stack.stop()
    assert code == 0
    with console_db(tmp_path / "console.db") as db:
        assert not scheduler_status(db).running
        assert not key_health_process(db).running
    for url in (stack.receiver_url, stack.sandbox_url, stack.public_url):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
    assert (tmp_path / "console.db").exists()
    assert (tmp_path / "sandbox.db").exists()


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "services.stack"],
        [sys.executable, "-m", "uvicorn", *RECEIVER_APP, "--port", "0"],
        [sys.executable, "-m", "uvicorn", *SANDBOX_APP, "--port", "0"],
        [sys.executable, "-m", "services.scheduler"],
        [sys.executable, "-m", "services.keys.health"],
    ],
)
def test_a_wrong_setting_stops_each_process_with_its_name(tmp_path: Path, command: list[str]) -> None:
    env = {
        **os.environ,
        "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"),
        "CONSOLE_DATA_DIR": str(tmp_path),
        "D360_API_BASE_URL": "not-a-url",
    }
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "D360_API_BASE_URL must be an http(s) URL" in result.stderr
    assert "Traceback" not in result.stderr


def _listens_on(service: Service) -> str:
    flag = "--server.address" if service.name == "dashboard" else "--host"
    return service.command[service.command.index(flag) + 1]


def test_in_live_mode_every_process_listens_on_loopback_unless_told(tmp_path: Path) -> None:
    env = live_env(tmp_path, "a long enough password")
    listening = [service for service in services_for(load_settings(env)) if service.health_url]
    assert {service.name: _listens_on(service) for service in listening} == {
        "receiver": "127.0.0.1",
        "dashboard": "127.0.0.1",
    }
    told = services_for(load_settings({**env, "CONSOLE_BIND_ADDRESS": "0.0.0.0"}))
    assert {_listens_on(service) for service in told if service.health_url} == {"0.0.0.0"}


def _demo(data_dir: Path) -> dict[str, str]:
    return {"CONSOLE_DATA_DIR": str(data_dir), "CONSOLE_SECRETS_FILE": str(data_dir / "none.toml")}


def _uvicorn_commands(**env: str) -> dict[str, list[str]]:
    settings = load_settings(env)
    return {service.name: service.command for service in services_for(settings) if "uvicorn" in service.command}


def test_uvicorn_reads_forwarded_headers_only_from_the_trusted_proxies(tmp_path: Path) -> None:
    demo = {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml")}
    # uvicorn's own default trusts X-Forwarded-For from any loopback peer: never left to it.
    for command in _uvicorn_commands(**demo).values():
        assert "--no-proxy-headers" in command
        assert "--proxy-headers" not in command
    behind_proxy = _uvicorn_commands(**demo, CONSOLE_TRUSTED_PROXIES="127.0.0.1")
    sandbox = behind_proxy["sandbox"]
    assert sandbox[sandbox.index("--forwarded-allow-ips") + 1] == "127.0.0.1/32"
    # The receiver reads the header itself (services/addresses.py), so uvicorn never rewrites its peer.
    assert "--no-proxy-headers" in behind_proxy["receiver"]


def test_the_dashboard_scripts_leave_the_import_path_to_how_the_console_is_started(tmp_path: Path) -> None:
    # Streamlit loads them by path; `python -m dashboard.server` from the project root (the stack's cwd) has
    # already put the root on sys.path, so neither script edits it.
    for script in ("dashboard/app.py", "dashboard/server.py"):
        assert "sys.path.insert" not in (ROOT / script).read_text(), script
    (dashboard,) = [service for service in services_for(load_settings(_demo(tmp_path))) if service.name == "dashboard"]
    assert dashboard.command[1:3] == ["-m", "dashboard.server"]


def test_uvicorn_builds_the_receiver_and_the_hub_through_their_factories_only(tmp_path: Path) -> None:
    commands = _uvicorn_commands(**_demo(tmp_path))
    for name, factory in (
        ("receiver", "services.receiver.server:app_from_settings"),
        ("sandbox", "services.sandbox.server:app_from_settings"),
    ):
        command = commands[name]
        assert command[command.index("--factory") + 1] == factory
    # No second way in: neither package builds an app when an attribute is asked for.
    for module in ("services.receiver", "services.receiver.server", "services.sandbox", "services.sandbox.server"):
        assert not hasattr(importlib.import_module(module), "__getattr__"), module
