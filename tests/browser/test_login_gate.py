"""The live-mode sign-in in a real browser against a real dashboard process.

A client's redirect that arrives before the operator signed in is not lost: after sign-in the browser is
on the landing page it asked for, and the redirect is stored.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.support import ROOT
from tests.support.console import live_env
from tests.support.servers import free_port, wait_for

PASSWORD = "browser-gate-password"


@pytest.fixture(scope="module")
def live_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("live-dashboard")
    port = free_port()
    env = {**live_env(data_dir, PASSWORD), "CONSOLE_PUBLIC_URL": f"http://localhost:{port}"}
    log_path = data_dir / "dashboard.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "dashboard/app.py",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("D360_")}, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def healthy() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, timeout=60)
        yield f"http://localhost:{port}", data_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_sign_in_then_land_where_the_redirect_asked(live_dashboard: tuple[str, Path], page) -> None:
    url, data_dir = live_dashboard
    page.goto(f"{url}/landing?client=gateCL&channels=%5Bgate1CH%2Cgate2CH%5D")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Onboarding")).to_have_count(0)

    page.get_by_label("Your name").fill("dora")
    page.get_by_role("textbox", name="Password").fill("not-" + PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Wrong password.")).to_be_visible()

    page.get_by_label("Your name").fill("dora")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Onboarding finished")).to_be_visible()
    expect(page.get_by_text("Signed in as dora")).to_be_visible()

    with sqlite3.connect(data_dir / "console.db") as db:
        redirects = db.execute("select client_id, channels from redirects").fetchall()
        audit = db.execute("select operator, action, outcome from audit order by id").fetchall()
    db.close()
    assert redirects == [("gateCL", '["gate1CH", "gate2CH"]')]
    assert audit == [("(not signed in)", "login", "refused"), ("dora", "login", "ok")]
