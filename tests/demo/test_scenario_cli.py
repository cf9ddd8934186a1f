"""`python -m services.demo.scenario` against a running sandbox hub and receiver."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from services.sandbox.server import create_app
from tests.support import ROOT
from tests.support.console import live_env
from tests.support.receiver import running_receiver
from tests.support.sandbox_hub import sandbox_settings
from tests.support.servers import free_port, serving, wait_for

pytestmark = pytest.mark.processes


def _env(data_dir: Path, sandbox_port: int, receiver_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "CONSOLE_RECEIVER_URL": f"http://127.0.0.1:{receiver_port}",
    }
    for key in ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD"):
        env.pop(key, None)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.demo.scenario", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_loads_the_scenario_and_reset_starts_afresh(tmp_path: Path) -> None:
    sandbox_port, receiver_port = free_port(), free_port()
    settings = sandbox_settings(tmp_path, sandbox_port=sandbox_port, receiver_port=receiver_port)
    env = _env(tmp_path, sandbox_port, receiver_port)
    with ExitStack() as stack:
        stack.enter_context(running_receiver(settings, port=receiver_port))
        stack.enter_context(serving(create_app(settings), sandbox_port))
        first = run_cli(env, "--seed", "2")
        assert first.returncode == 0, first.stderr
        assert "Loaded 40 clients and 150 channels" in first.stdout
        assert "30 keys generated, 0 key failures" in first.stdout
        second = run_cli(env, "--seed", "2", "--reset")
        assert second.returncode == 0, second.stderr
        with sqlite3.connect(tmp_path / "console.db") as db:
            assert db.execute("select count(*) from channels").fetchone() == (150,)
            assert db.execute("select count(*) from api_keys").fetchone() == (30,)
        with sqlite3.connect(tmp_path / "sandbox.db") as db:
            assert db.execute("select count(*) from channels").fetchone() == (150,)
            wait_for(lambda: db.execute("select count(*) from outbox where delivered_at is null").fetchone() == (0,))
    assert settings.partner_api_key not in first.stdout + first.stderr + second.stdout + second.stderr


def test_cli_says_when_the_hub_is_not_running(tmp_path: Path) -> None:
    result = run_cli(_env(tmp_path, free_port(), free_port()))
    assert result.returncode == 1
    assert "cannot reach the sandbox hub" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_refuses_live_mode(tmp_path: Path) -> None:
    live = live_env(tmp_path, "a long operator password")
    env = {**_env(tmp_path, free_port(), free_port()), **live}
    result = run_cli(env)
    assert result.returncode == 2
    assert "only in demo mode" in result.stderr
    assert live["D360_PARTNER_API_KEY"] not in result.stderr
