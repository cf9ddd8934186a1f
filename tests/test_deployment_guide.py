"""Every command docs/deployment.md gives is run here, as written there (ports and folders aside)."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from contextlib import ExitStack, closing
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from tests.support import ROOT
from tests.support.receiver import SECRET, event_body, signed_headers
from tests.support.sandbox_hub import start_hub
from tests.support.servers import free_port, wait_for

pytestmark = pytest.mark.processes

GUIDE = (ROOT / "docs" / "deployment.md").read_text()


def guide_commands() -> list[str]:
    """The shell commands of the guide's sh blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE, flags=re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines() if line.strip()]


def command_starting(prefix: str) -> list[str]:
    matches = [command for command in guide_commands() if command.startswith(prefix)]
    assert len(matches) == 1, (prefix, guide_commands())
    # The guide writes .venv/bin/...; here the test's own interpreter stands in for the project's venv.
    words = shlex.split(matches[0])
    program = words[0].removeprefix(".venv/bin/")
    if program == "python":
        return [sys.executable, *words[1:]]
    return [sys.executable, "-m", program, *words[1:]]


def clean_env(**values: str) -> dict[str, str]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("D360_", "CONSOLE_"))}
    return {**inherited, **values}


def test_every_command_in_the_guide_is_one_this_test_runs() -> None:
    prefixes = (
        ".venv/bin/python -m services.password_hash",
        '.venv/bin/python -c "from cryptography.fernet',
        ".venv/bin/uvicorn services.receiver:app",
        ".venv/bin/streamlit run dashboard/app.py",
        ".venv/bin/python -m services.partner_setup",
        '.venv/bin/python -c "import sqlite3',
    )
    for command in guide_commands():
        assert command.startswith(prefixes), f"docs/deployment.md has a command no test runs: {command}"


def test_the_secrets_commands_print_what_the_settings_take(tmp_path: Path) -> None:
    key = subprocess.run(
        command_starting('.venv/bin/python -c "from cryptography.fernet'), capture_output=True, text=True, check=True
    ).stdout.strip()
    Fernet(key.encode())
    typed = "a long enough password\na long enough password\n"
    made = subprocess.run(
        command_starting(".venv/bin/python -m services.password_hash"),
        input=typed,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        check=True,
    )
    assert made.stdout.strip().splitlines()[-1].startswith("scrypt$")


def test_the_receiver_runs_in_live_mode_with_the_guides_flags(tmp_path: Path) -> None:
    port = free_port()
    command = command_starting(".venv/bin/uvicorn services.receiver:app")
    command[command.index("--port") + 1] = str(port)
    env = clean_env(CONSOLE_MODE="live", D360_PLATFORM_SECRET=SECRET, CONSOLE_DATA_DIR=str(tmp_path / "data"))
    env["CONSOLE_SECRETS_FILE"] = str(tmp_path / "none.toml")
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(f"{url}/healthz"), timeout=30)
            body = event_body("evt-guide")
            answer = requests.post(f"{url}/webhooks/360dialog", data=body, headers=signed_headers(body), timeout=10)
            assert answer.status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_the_dashboard_runs_with_the_guides_flags(tmp_path: Path) -> None:
    port = free_port()
    command = command_starting(".venv/bin/streamlit run dashboard/app.py")
    command[command.index("--server.port") + 1] = str(port)
    command += ["--server.headless", "true"]
    env = clean_env(CONSOLE_DATA_DIR=str(tmp_path / "data"), CONSOLE_SECRETS_FILE=str(tmp_path / "none.toml"))
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/_stcore/health"), timeout=60)
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_partner_setup_registers_both_urls_with_the_partner_api(tmp_path: Path) -> None:
    with ExitStack() as stack:
        hub_dir = tmp_path / "hub"
        hub = start_hub(stack, hub_dir)
        # The hub's own demo settings and secrets: the command then talks to it as to 360dialog.
        env = clean_env(
            CONSOLE_MODE="demo",
            CONSOLE_DATA_DIR=str(hub_dir),
            CONSOLE_SECRETS_FILE=str(tmp_path / "none.toml"),
            SANDBOX_URL=hub.url,
            CONSOLE_RECEIVER_URL="https://hooks.example.com",
            CONSOLE_PUBLIC_URL="https://console.example.com",
        )
        command = command_starting(".venv/bin/python -m services.partner_setup --apply")

        def run(*args: str) -> str:
            return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout

        assert "webhook URL at 360dialog now: (none)" in run(*command[:-1])  # without --apply: only shows
        applied = run(*command)
        assert "set: webhook URL https://hooks.example.com/webhooks/360dialog" in applied
        assert hub.api().get_webhook_url() == "https://hooks.example.com/webhooks/360dialog"


def test_the_backup_command_copies_a_database_in_use(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with closing(sqlite3.connect(data / "console.db")) as db:
        db.execute("create table t (x)")
        db.execute("insert into t values (42)")
        db.commit()
        subprocess.run(command_starting('.venv/bin/python -c "import sqlite3'), cwd=tmp_path, check=True)
    with closing(sqlite3.connect(tmp_path / "backup.db")) as backup:
        assert backup.execute("select x from t").fetchall() == [(42,)]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
