"""A password account's session survives a reload and a deep link in a new tab (what alerts link to), and ends
on sign-out and when the account is removed with `python -m services.accounts remove`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import ROOT
from tests.support.console import LIVE_ENV_KEYS, add_team, console_db, live_env
from tests.support.console_process import console_process
from tests.support.navigation import open_navigation
from tests.support.screens import screenshot
from tests.support.servers import wait_for

PASSWORD = "browser-session-password"
CHANNEL = "deepCH"
DEEP_LINK = f"/channels?open={CHANNEL}"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("password-sessions")
    add_team(data_dir, PASSWORD)
    with console_db(data_dir / "console.db") as db, db.atomic():
        db["channels"].insert({"id": CHANNEL, "client_id": "deepCL", "status": "running", "revoked": 0})
    settings = live_env(data_dir, PASSWORD)
    with console_process(data_dir, settings) as url:
        yield url, data_dir, settings


def sign_in(page, url: str, name: str) -> None:
    page.goto(url)
    page.get_by_label("Account").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text(f"Signed in as {name} · admin")).to_be_attached()
    # The page then sends the browser through the session route, which sets the cookie.
    wait_for(lambda: session_cookie(page.context) is not None, timeout=30)


def session_cookie(context) -> dict | None:
    return next((cookie for cookie in context.cookies() if cookie["name"] == "console_session"), None)


def expect_signed_in(page, name: str) -> None:
    expect(page.get_by_text(f"Signed in as {name} · admin")).to_be_attached()
    expect(page.get_by_role("heading", name="Sign in")).to_have_count(0)


def expect_sign_in(page) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def open_in_new_tab(context, url: str):
    tab = context.new_page()
    tab.goto(url + DEEP_LINK)
    return tab


def remove_account(settings: dict[str, str], name: str) -> None:
    env = {key: value for key, value in os.environ.items() if key not in LIVE_ENV_KEYS}
    result = subprocess.run(
        [sys.executable, "-m", "services.accounts", "remove", name],
        cwd=ROOT,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_deep_link_opens_in_a_new_tab_until_sign_out(console, browser) -> None:
    url, _, _ = console
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    first = context.new_page()
    first.goto(url)
    expect_sign_in(first)
    screenshot(first, "sign-in-password-1280")
    sign_in(first, url, "dora")
    cookie = session_cookie(context)
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert "dora" not in cookie["value"]

    first.reload()
    expect_signed_in(first, "dora")
    tab = open_in_new_tab(context, url)
    expect_signed_in(tab, "dora")
    assert tab.url.endswith(DEEP_LINK)
    screenshot(tab, "deep-link-new-tab-1280")

    open_navigation(first)
    screenshot(first, "signed-in-sidebar-1280")
    first.set_viewport_size({"width": 800, "height": 800})
    screenshot(first, "signed-in-sidebar-800")
    first.get_by_role("button", name="Sign out").click()
    expect_sign_in(first)
    wait_for(lambda: session_cookie(context) is None, timeout=30)
    expect_sign_in(open_in_new_tab(context, url))
    context.close()


def test_a_deep_link_opens_no_longer_once_the_account_is_removed(console, browser) -> None:
    url, _, settings = console
    context = browser.new_context(viewport={"width": 800, "height": 800})
    first = context.new_page()
    sign_in(first, url, "ana")
    expect_signed_in(open_in_new_tab(context, url), "ana")
    remove_account(settings, "ana")
    # The browser still holds the cookie: the session ended on the server.
    assert session_cookie(context) is not None
    expect_sign_in(open_in_new_tab(context, url))
    context.close()


def test_a_session_cookie_from_elsewhere_opens_nothing(console, browser) -> None:
    url, _, _ = console
    context = browser.new_context()
    context.add_cookies([{"name": "console_session", "value": "forged.value.sig", "url": url}])
    expect_sign_in(open_in_new_tab(context, url))
    context.close()
