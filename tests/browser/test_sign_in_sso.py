"""Single sign-on against a real OIDC provider on loopback (oidc-provider-mock, Authlib's server side): an
allowed person gets in with the role the settings give them, a person outside the team sees why and is
audited, and a sign-in older than CONSOLE_SESSION_HOURS is sent back to the provider."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import expect

from tests.support.console import live_env
from tests.support.console_process import CONSOLE_COMMAND, console_process
from tests.support.screens import screenshot
from tests.support.servers import free_port

PEOPLE = (
    User(sub="ana", claims={"email": "ana@example.com", "email_verified": True, "name": "Ana Lima"}),
    User(sub="mallory", claims={"email": "mallory@gmail.test", "email_verified": True, "name": "Mallory"}),
)


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with run_server_in_thread(user_claims=PEOPLE) as server:
        yield f"http://localhost:{server.server_port}"


@contextmanager
def sso_console(data_dir: Path, provider: str, session_hours: str) -> Iterator[str]:
    """A live console whose sign-in is single sign-on at `provider`, for the team at example.com."""
    port = free_port()
    secrets_file = data_dir / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        "[auth.corp]\n"
        'client_id = "console"\n'
        f'client_secret = "{secrets.token_urlsafe(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    settings = {
        **live_env(data_dir, "unused"),
        "CONSOLE_SECRETS_FILE": str(secrets_file),
        "CONSOLE_ALLOWED_DOMAINS": "example.com",
        "CONSOLE_ROLES": "operator=ana@example.com",
        "CONSOLE_SESSION_HOURS": session_hours,
    }
    command = (*CONSOLE_COMMAND, "--secrets.files", str(secrets_file))
    with console_process(data_dir, settings, command, port=port) as url:
        yield url


def sign_in_at_the_provider(page, url: str, sub: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def audit_rows(data_dir: Path) -> list[tuple]:
    with sqlite3.connect(data_dir / "console.db") as db:
        return db.execute("select operator, role, action, outcome, detail from audit order by id").fetchall()


def test_only_the_team_gets_in(provider: str, browser, tmp_path: Path) -> None:
    with sso_console(tmp_path, provider, "12") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(url)
        expect(page.get_by_role("button", name="Sign in with single sign-on")).to_be_visible()
        screenshot(page, "sign-in-sso-1280")
        sign_in_at_the_provider(page, url, "ana")
        expect(page.get_by_text("Signed in as Ana Lima · operator")).to_be_attached()
        expect(page.get_by_role("heading", name="Today")).to_be_visible()
        context.close()

        stranger = browser.new_context(viewport={"width": 800, "height": 800}).new_page()
        sign_in_at_the_provider(stranger, url, "mallory")
        expect(stranger.get_by_text("mallory@gmail.test is not on this console's list")).to_be_visible()
        expect(stranger.get_by_role("button", name="Sign out / use another account")).to_be_visible()
        expect(stranger.get_by_test_id("stSidebar")).to_have_count(0)
        screenshot(stranger, "sign-in-refused-800")
        stranger.context.close()
    rows = audit_rows(tmp_path)
    assert ("ana@example.com", "operator", "login", "ok") in [row[:4] for row in rows]
    refused = [row for row in rows if row[0] == "mallory@gmail.test"]
    assert [row[1:4] for row in refused] == [(None, "login", "refused")]
    assert "not on this console's list" in refused[0][4]


def test_a_sign_in_older_than_the_session_hours_is_sent_back(provider: str, browser, tmp_path: Path) -> None:
    # 0.01 hours: 36 seconds.
    with sso_console(tmp_path, provider, "0.01") as url:
        page = browser.new_context().new_page()
        sign_in_at_the_provider(page, url, "ana")
        expect(page.get_by_text("Signed in as Ana Lima · operator")).to_be_attached()
        time.sleep(40)
        page.reload()
        expect(page.get_by_text("older than 0.01 hours")).to_be_visible()
        expect(page.get_by_text("Signed in as")).to_have_count(0)
        page.get_by_role("button", name="Sign in again").click()
        page.locator("input[name=sub]").fill("ana")
        page.get_by_role("button", name="Authorize").click()
        expect(page.get_by_text("Signed in as Ana Lima · operator")).to_be_attached()
        page.context.close()
