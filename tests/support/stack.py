"""Run the real three-process stack (as the README's run command does) on free ports in a temp folder."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from services.stack.supervisor import stop_process
from tests.support import ROOT
from tests.support.console import LIVE_ENV_KEYS as CONSOLE_SETTING_KEYS
from tests.support.servers import free_port, wait_for


@dataclass
class RunningStack:
    process: subprocess.Popen
    public_url: str
    receiver_url: str
    sandbox_url: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path

    def stop(self) -> int:
        return stop_process(self.process, signal.SIGINT)


def start_stack(data_dir: Path, extra_env: dict[str, str] | None = None, timeout: float = 90) -> RunningStack:
    ports = [free_port() for _ in range(3)]
    # Nothing of the developer's own settings: the mode and credentials come from `extra_env` alone.
    inherited = {key: value for key, value in os.environ.items() if key not in CONSOLE_SETTING_KEYS}
    env = {
        **inherited,
        "CONSOLE_MODE": "demo",
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_PUBLIC_URL": f"http://localhost:{ports[0]}",
        "CONSOLE_RECEIVER_URL": f"http://127.0.0.1:{ports[1]}",
        "SANDBOX_URL": f"http://127.0.0.1:{ports[2]}",
        "SANDBOX_RUNNING_DELAY_SECONDS": "2",
        **(extra_env or {}),
    }
    log_path = data_dir / "stack.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    stack = RunningStack(
        process, env["CONSOLE_PUBLIC_URL"], env["CONSOLE_RECEIVER_URL"], env["SANDBOX_URL"], data_dir, env, log_path
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the stack stopped at start:\n" + log_path.read_text())
        if "Console ready" in log_path.read_text():
            return stack
        time.sleep(0.3)
    stack.stop()
    raise RuntimeError("the stack did not become ready:\n" + log_path.read_text())


def wait_until_running(stack: RunningStack, channel_id: str, timeout: float = 60) -> None:
    """Until the console has the channel as running (its webhook arrived, or a sync saw it)."""

    def running() -> bool:
        with contextlib.closing(sqlite3.connect(stack.data_dir / "console.db")) as db:
            row = db.execute("select status from channels where id = ?", [channel_id]).fetchone()
        return bool(row) and row[0] == "running"

    wait_for(running, timeout=timeout)
