"""Sign-in at the public edge, in a real browser against the live console process: a visitor who asked for an
operator's page gets the sign-in there (no "Page not found", no other page named) and, signed in, that page
with its query; an attacker's forged X-Forwarded-For and wrong passwords do not stop a colleague at the same
address."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.console import add_team, live_env
from tests.support.console_process import console_process

PASSWORD = "browser-edge-password"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("edge-browser")
    add_team(data_dir, PASSWORD)
    with console_process(data_dir, live_env(data_dir, PASSWORD)) as url:
        yield url, data_dir


def submit(page, name: str, password: str) -> None:
    page.get_by_label("Account").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_the_sign_in_answers_where_the_visitor_asked_and_leads_back_there(console, page) -> None:
    url, _ = console
    page.goto(f"{url}/audit?who=dora")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    submit(page, "dora", PASSWORD)
    expect(page.get_by_role("heading", name="Audit")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/audit\?who=dora$"))
    expect(page.get_by_text("Signed in as dora")).to_be_attached()


def test_forged_addresses_and_wrong_passwords_do_not_stop_a_colleague(console, browser) -> None:
    url, data_dir = console
    for attempt in range(12):
        attacker = browser.new_context(extra_http_headers={"X-Forwarded-For": f"203.0.113.{attempt}"}).new_page()
        attacker.goto(url)
        submit(attacker, f"mallory{attempt}", f"guess-{attempt}")
        expect(attacker.get_by_text("Wrong account name or password.")).to_be_visible()
        attacker.context.close()
    with sqlite3.connect(data_dir / "console.db") as db:
        sources = {key for (key,) in db.execute("select key from sign_in_throttle where key like 'source:%'")}
    assert sources == {"source:127.0.0.1"}

    colleague = browser.new_context().new_page()
    colleague.goto(url)
    submit(colleague, "alice", PASSWORD)
    expect(colleague.get_by_text("Signed in as alice")).to_be_attached()
    colleague.context.close()
