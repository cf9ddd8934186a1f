"""Live mode in a real browser: the sandbox hub plays 360dialog, the console runs as a partner deploys it.

A client's browser with no console session completes IO on the hub and lands on the console's landing page
without any sign-in, sees only the neutral page, and its redirect is applied by state; an operator then sees
it. A forged redirect is held for review and changes nothing; an operator discards it. (The same redirect seen
by an operator is tested on the demo stack, tests/browser/test_connect_full_page.py.)
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.support.connect import hand_out_a_link
from tests.support.live_console import live_env_against
from tests.support.live_console import sign_in as sign_in_with_password
from tests.support.navigation import open_navigation
from tests.support.sandbox_hub import Hub, start_hub
from tests.support.screens import screenshot
from tests.support.servers import wait_for
from tests.support.stack import RunningStack, start_stack

PASSWORD = "browser-live-password"
PARTNER_NAME = "Acme Messaging"


@dataclass
class Live:
    stack: RunningStack
    hub: Hub

    @property
    def url(self) -> str:
        return self.stack.public_url

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.stack.data_dir / "console.db") as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path_factory.mktemp("hub"))
        data_dir = tmp_path_factory.mktemp("live-console")
        env = live_env_against(hub, data_dir, PASSWORD, CONSOLE_PARTNER_NAME=PARTNER_NAME)
        running = start_stack(data_dir, env)
        try:
            yield Live(running, hub)
        finally:
            assert running.stop() == 0, running.log_path.read_text()


def sign_in(page, url: str, name: str = "dora") -> None:
    sign_in_with_password(page, url, PASSWORD, name)


def expect_neutral_page(page, heading: str = "Onboarding complete") -> None:
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_text(PARTNER_NAME)).to_be_visible()
    for internal in ("Sign in", "Redirects", "Channels and keys", "held for review"):
        expect(page.get_by_text(internal)).to_have_count(0)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)


def test_a_client_onboards_and_lands_without_signing_in(live: Live, browser) -> None:
    operator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(operator, live.url)
    # The console opens on its home page; links are handed out on Connect.
    operator.get_by_role("link", name="Connect", exact=True).click()
    href = hand_out_a_link(operator)
    # With IO Signature on, the link is the console's, signed at the client's visit.
    assert href.startswith(f"{live.url}/connect/")

    # The client: a fresh browser, no console session at all.
    client_context = browser.new_context(viewport={"width": 800, "height": 900})
    client = client_context.new_page()
    client.goto(href)
    assert client.url.startswith(f"{live.hub.url}/dashboard/app/")
    client.fill("#business_name", "Live Mode Bakery")
    client.fill("#numbers", "+49 151 0000031")
    client.check("#grant")
    client.click("#submit")
    client.wait_for_url(re.compile(r"/landing"))
    expect_neutral_page(client)
    screenshot(client, "live-landing-800")
    client_context.close()

    # The landing asks 360dialog nothing: the scheduler confirms the new channel within its next check.
    wait_for(lambda: live.query("select 1 from redirects where verdict != 'pending'"), timeout=60)
    rows = live.query("select client_id, state_match, verdict from redirects")
    assert len(rows) == 1
    client_id, state_match, verdict = rows[0]
    assert (state_match, verdict) == ("matched", "applied_state")
    # The channel came in because 360dialog (the hub) listed it for that client, not from the redirect alone.
    assert live.query("select client_id, permission from channels") == [(client_id, "granted")]

    # The operator sees it where they handed the link out, and on the Redirects page.
    expect(operator.get_by_text("The client came back through this link; the redirect was applied")).to_be_visible()
    # Within the session, as an operator moves about (a password sign-in lasts as long as the browser tab).
    open_navigation(operator)  # the sidebar starts collapsed
    operator.get_by_role("link", name="Redirects", exact=True).click()
    expect(operator.get_by_text("No redirect is waiting for review.")).to_be_visible()
    expect(operator.locator("[role=gridcell]", has_text=client_id).first).to_be_attached()
    operator.context.close()


def test_a_forged_redirect_is_held_and_changes_nothing(live: Live, browser) -> None:
    victim = live.query("select id, client_id from channels")
    assert victim, "runs after the onboarding test, which leaves one real channel"
    channel_id, real_client = victim[0]
    before = live.query("select * from channels order by id")
    forged = f"client=evilCL&channels=%5B%5D&revoked=%5B{channel_id}%5D"

    anonymous = browser.new_context().new_page()
    for query in (forged, f"{forged}&state=made-up"):
        anonymous.goto(f"{live.url}/landing?{query}")
        expect_neutral_page(anonymous, "No number was shared")
    anonymous.context.close()

    assert live.query("select * from channels order by id") == before
    assert live.query("select client_id from channels where id = ?", (channel_id,)) == [(real_client,)]
    held = live.query("select verdict from redirects where client_id = 'evilCL'")
    assert held == [("held",), ("held",)]

    operator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(operator, live.url)
    open_navigation(operator)  # the sidebar starts collapsed
    operator.get_by_role("link", name="Redirects", exact=True).click()
    expect(operator.get_by_text("Waiting for review (2)")).to_be_visible()
    screenshot(operator, "live-redirects-1280")
    operator.set_viewport_size({"width": 800, "height": 900})
    screenshot(operator, "live-redirects-800")
    operator.get_by_role("button", name=re.compile(r"^Discard redirect #")).first.click()
    expect(operator.get_by_text("Waiting for review (1)")).to_be_visible()
    assert ("discarded",) in live.query("select verdict from redirects where client_id = 'evilCL'")
    audit = live.query("select operator, action from audit where action like 'redirect_%'")
    assert audit == [("dora", "redirect_discard")]
    operator.context.close()


def test_a_visitor_who_has_not_signed_in_gets_the_sign_in_everywhere_else(live: Live, page) -> None:
    for path in ("/", "/channels", "/redirects", "/events"):
        page.goto(f"{live.url}{path}")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    page.get_by_label("Account").fill("dora")
    page.get_by_role("textbox", name="Password").fill("not-" + PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Wrong account name or password.")).to_be_visible()
