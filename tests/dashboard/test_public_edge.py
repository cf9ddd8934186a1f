"""The console's public edge, against the real console process as the stack starts it, in live mode, spoken to
as an attacker would: plain HTTP and a bare websocket whose ForwardMsgs are decoded with Streamlit's protos.

- A source is the socket's peer, or the last hop a trusted proxy added: a forged X-Forwarded-For changes
  nothing (it used to pick the address of every sign-in attempt), even when the console is started without
  its edge; and the edge refuses to be served by a uvicorn that believes the header itself.
- Streamlit's metrics, agent API and script health check are closed; no outside origin may message a framed
  console; responses carry security headers.
- An anonymous session learns no path of the server, no other page, no Streamlit or Python version.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import streamlit
from google.protobuf import text_format

from tests.support import ROOT
from tests.support.console import add_team, live_env
from tests.support.console_process import console_process, session_messages, sign_in_over_websocket

pytestmark = pytest.mark.processes

PASSWORD = "edge-test-password"
OPERATOR_PAGES = ("redirects", "events", "channels", "clients", "receiver", "audit", "alerts", "demo")
OPERATOR_TITLES = ("Connect", "Redirects", "Events", "Channels and keys", "Clients", "Receiver health", "Audit")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("edge")
    add_team(data_dir, PASSWORD)
    with console_process(data_dir, live_env(data_dir, PASSWORD)) as url:
        yield url, data_dir


def throttle_keys(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "console.db") as db:
        return {key for (key,) in db.execute("select key from sign_in_throttle")}


def test_a_forged_forwarded_for_does_not_choose_the_source(console: tuple[str, Path]) -> None:
    url, data_dir = console
    for attempt in range(4):
        answer = sign_in_over_websocket(
            url, f"mallory{attempt}", "guess", {"X-Forwarded-For": f"203.0.113.{attempt}, 360dialog-hub (verified)"}
        )
        assert "Wrong account name or password." in "\n".join(
            text_format.MessageToString(message) for message in answer
        )
    keys = throttle_keys(data_dir)
    # Every attempt counted under the one real source: this machine, where the attacker's socket came from.
    assert {key for key in keys if key.startswith("source:")} == {"source:127.0.0.1"}
    assert not [key for key in keys if "203.0.113" in key or "verified" in key]


def test_only_a_trusted_proxy_names_the_source_and_only_by_its_own_hop(tmp_path: Path) -> None:
    add_team(tmp_path, PASSWORD)
    settings = {**live_env(tmp_path, PASSWORD), "CONSOLE_TRUSTED_PROXIES": "127.0.0.1"}
    with console_process(tmp_path, settings) as url:
        sign_in_over_websocket(url, "ana", "guess", {"X-Forwarded-For": "198.51.100.1, 203.0.113.77"})
        sign_in_over_websocket(url, "ana", "guess", {"X-Forwarded-For": "360dialog-hub (verified)"})
    assert {key for key in throttle_keys(tmp_path) if key.startswith("source:")} == {
        "source:203.0.113.77",
        "source:127.0.0.1",
    }


def test_without_the_edge_a_forwarded_for_still_counts_as_this_machine(tmp_path: Path) -> None:
    # Started as a plain Streamlit script, Streamlit's uvicorn believes a loopback peer's header; the console
    # then counts such a session as loopback rather than as the address it claims.
    add_team(tmp_path, PASSWORD)
    with console_process(tmp_path, live_env(tmp_path, PASSWORD), ("-m", "streamlit", "run", "dashboard/app.py")) as url:
        sign_in_over_websocket(url, "ana", "guess", {"X-Forwarded-For": "203.0.113.5"})
    assert {key for key in throttle_keys(tmp_path) if key.startswith("source:")} == {"source:127.0.0.1"}


def test_the_edge_will_not_be_served_with_uvicorn_believing_forwarded_headers(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "FORWARDED_ALLOW_IPS"}
    env.update(live_env(tmp_path, PASSWORD))
    result = subprocess.run(
        [sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "python -m dashboard.server" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "path",
    [
        "/_stcore/metrics",
        "/_stcore/agent/openapi.json",
        "/_stcore/agent/interact",
        "/_stcore/agent/mcp",
        "/_stcore/script-health-check",
    ],
)
def test_internal_routes_are_closed(console: tuple[str, Path], path: str) -> None:
    url, _ = console
    for method in ("GET", "POST"):
        assert requests.request(method, f"{url}{path}", json={}, timeout=10).status_code == 404


def test_pages_carry_security_headers_and_only_the_landing_may_be_framed_elsewhere(console: tuple[str, Path]) -> None:
    url, _ = console
    page = requests.get(f"{url}/channels", timeout=10)
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert "Content-Security-Policy" not in requests.get(f"{url}/landing", timeout=10).headers
    assert requests.get(f"{url}/_stcore/health", timeout=10).status_code == 200


def test_no_outside_origin_may_message_a_framed_console(console: tuple[str, Path]) -> None:
    url, _ = console
    host_config = requests.get(f"{url}/_stcore/host-config", timeout=10).json()
    assert host_config["allowedOrigins"] == []


@pytest.mark.parametrize("path", ["landing", "", "channels", "audit"])
def test_an_anonymous_session_learns_no_path_page_or_version(console: tuple[str, Path], path: str) -> None:
    url, _ = console
    messages = session_messages(url, path, "client=c1&channels=%5B%5D" if path == "landing" else "")
    text = "\n".join(text_format.MessageToString(message) for message in messages)
    assert str(ROOT) not in text
    assert "pages/" not in text
    assert ".py" not in text
    assert streamlit.__version__ not in text
    assert platform.python_version() not in text
    new_session = next(message.new_session for message in messages if message.WhichOneof("type") == "new_session")
    assert new_session.main_script_path == ""
    assert not new_session.initialize.environment_info.python_version
    navigation = next(message.navigation for message in messages if message.WhichOneof("type") == "navigation")
    offered = {page.url_pathname for page in navigation.app_pages}
    # The landing, the sign-in at the root, and the sign-in again at the path this visitor asked for.
    assert offered <= {"", "landing", "sign_in", path}
    assert not {page.page_name for page in navigation.app_pages} & set(OPERATOR_TITLES)
    for other in OPERATOR_PAGES:
        if other != path:
            assert f'"{other}"' not in text
