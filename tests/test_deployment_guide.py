"""Every command docs/deployment.md gives is run here, as written there (ports and folders aside)."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import stat
import subprocess
import sys
from contextlib import ExitStack, closing
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from cryptography.fernet import Fernet

from services.stack.commands import RECEIVER_APP, RECEIVER_SERVER_FLAGS, receiver_command
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
        ".venv/bin/python -m services.accounts add",
        '.venv/bin/python -c "from cryptography.fernet',
        ".venv/bin/uvicorn --factory services.receiver.server:app_from_settings",
        ".venv/bin/python -m dashboard.server",
        ".venv/bin/python -m services.onboarding.partner_setup",
        '.venv/bin/python -c "import os, sqlite3',
    )
    for command in guide_commands():
        assert command.startswith(prefixes), f"docs/deployment.md has a command no test runs: {command}"


def test_the_secrets_commands_print_what_the_settings_take(tmp_path: Path) -> None:
    key = subprocess.run(
        command_starting('.venv/bin/python -c "from cryptography.fernet'), capture_output=True, text=True, check=True
    ).stdout.strip()
    Fernet(key.encode())


def test_the_first_account_is_made_as_the_guide_says(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(
        CONSOLE_MODE="live", CONSOLE_DATA_DIR=str(data_dir), CONSOLE_SECRETS_FILE=str(tmp_path / "none.toml")
    )
    subprocess.run(
        command_starting(".venv/bin/python -m services.accounts add"),
        input="a long enough password\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    with closing(sqlite3.connect(data_dir / "console.db")) as db:
        rows = db.execute("select name, display_name, role, password_hash from accounts").fetchall()
    assert [row[:3] for row in rows] == [("ana", "Ana Lima", "admin")]
    assert rows[0][3].startswith("scrypt$")


def test_the_receiver_runs_in_live_mode_with_the_guides_flags(tmp_path: Path) -> None:
    port = free_port()
    command = command_starting(".venv/bin/uvicorn --factory services.receiver.server:app_from_settings")
    command[command.index("--port") + 1] = str(port)
    env = clean_env(CONSOLE_MODE="live", D360_PLATFORM_SECRET=SECRET, CONSOLE_DATA_DIR=str(tmp_path / "data"))
    env["CONSOLE_SECRETS_FILE"] = str(tmp_path / "none.toml")
    env["CONSOLE_TRUSTED_PROXIES"] = "127.0.0.1"  # the guide's proxy, on this host
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(f"{url}/healthz"), timeout=30)
            body = event_body("evt-guide")
            answer = requests.post(f"{url}/webhooks/360dialog", data=body, headers=signed_headers(body), timeout=10)
            assert answer.status_code == 200
            # As the guide's nginx forwards a stranger's unsigned request: the header holds what it saw.
            forwarded = {"content-type": "application/json", "x-forwarded-for": "203.0.113.9"}
            refused = requests.post(f"{url}/webhooks/360dialog", data=body, headers=forwarded, timeout=10)
            assert refused.status_code == 401
            assert wait_for(lambda: _refusal_sources(tmp_path / "data" / "console.db"), timeout=10) == ["203.0.113.9"]
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_the_dashboard_runs_with_the_guides_flags(tmp_path: Path) -> None:
    port = free_port()
    command = command_starting(".venv/bin/python -m dashboard.server")
    command[command.index("--server.port") + 1] = str(port)
    command += ["--server.headless", "true"]
    env = clean_env(CONSOLE_DATA_DIR=str(tmp_path / "data"), CONSOLE_SECRETS_FILE=str(tmp_path / "none.toml"))
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/_stcore/health"), timeout=60)
            # Started as the guide says, the console's edge is in front: Streamlit's metrics are closed.
            assert requests.get(f"http://127.0.0.1:{port}/_stcore/metrics", timeout=10).status_code == 404
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
        command = command_starting(".venv/bin/python -m services.onboarding.partner_setup --apply")

        def run(*args: str) -> str:
            return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout

        assert "webhook URL at 360dialog now: (none)" in run(*command[:-1])  # without --apply: only shows
        applied = run(*command)
        assert "webhook URL: (none) -> https://hooks.example.com/webhooks/360dialog" in applied
        assert hub.api().get_webhook_url() == "https://hooks.example.com/webhooks/360dialog"


def test_the_backup_command_copies_a_database_in_use(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with closing(sqlite3.connect(data / "console.db")) as db:
        db.execute("create table t (x)")
        db.execute("insert into t values (42)")
        db.commit()
        subprocess.run(command_starting('.venv/bin/python -c "import os, sqlite3'), cwd=tmp_path, check=True)
    with closing(sqlite3.connect(tmp_path / "backup.db")) as backup:
        assert backup.execute("select x from t").fetchall() == [(42,)]


@pytest.mark.parametrize("earlier_backup_mode", [None, 0o644])
def test_the_backup_is_readable_by_its_owner_only(tmp_path: Path, earlier_backup_mode: int | None) -> None:
    (tmp_path / "data").mkdir()
    with closing(sqlite3.connect(tmp_path / "data" / "console.db")) as db:
        db.execute("create table audit (what)")
        db.commit()
    if earlier_backup_mode is not None:
        (tmp_path / "backup.db").touch(mode=earlier_backup_mode)
        (tmp_path / "backup.db").chmod(earlier_backup_mode)
    previous = os.umask(0o022)  # as a login shell has it
    try:
        subprocess.run(command_starting('.venv/bin/python -c "import os, sqlite3'), cwd=tmp_path, check=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "backup.db").stat().st_mode) == 0o600


def test_the_proxy_overwrites_the_forwarded_header_wherever_it_proxies() -> None:
    [config] = re.findall(r"```nginx\n(.*?)```", GUIDE, flags=re.S)
    assert "$proxy_add_x_forwarded_for" not in config
    overwrite = re.compile(r"^\s*proxy_set_header X-Forwarded-For \$remote_addr;", flags=re.M)
    servers = config.split("server {")[1:]
    assert len(servers) == 2
    for server in servers:
        assert overwrite.search(server), server
        # nginx drops a server's proxy_set_header in a location that sets any of its own.
        for location in re.findall(r"location[^{]*\{(?:[^{}])*\}", server):
            if "proxy_set_header" in location:
                assert overwrite.search(location), location
        for target in re.findall(r"proxy_pass (\S+);", server):
            assert target.startswith("http://127.0.0.1:"), target


def test_the_proxy_answers_nothing_for_streamlits_metrics() -> None:
    assert "location = /_stcore/metrics { return 404; }" in GUIDE


def test_the_guides_receiver_flags_are_the_ones_make_run_passes() -> None:
    command = command_starting(".venv/bin/uvicorn --factory services.receiver.server:app_from_settings")
    flags = command[command.index("--port") + 2 :]
    # make run gives every uvicorn it starts the last three: no access log, ten seconds to finish on SIGTERM.
    assert flags == [*RECEIVER_SERVER_FLAGS, "--no-access-log", "--timeout-graceful-shutdown", "10"]
    make_run = receiver_command(
        SimpleNamespace(log_level="INFO", bind_address="127.0.0.1", receiver_url="http://127.0.0.1:8502"), "py"
    )
    assert make_run[make_run.index("--timeout-graceful-shutdown") + 1] == "10"
    assert "--no-access-log" in make_run
    assert command[3:5] == list(RECEIVER_APP)
    assert command[command.index("--host") + 1] == "127.0.0.1"


def _refusal_sources(db_path: Path) -> list[str]:
    with closing(sqlite3.connect(db_path)) as db:
        return [source for (source,) in db.execute("select source from receiver_rejections order by id")]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
