"""Forged redirects in a real browser, in live mode (the sandbox hub plays 360dialog).

A client onboards for real, so 360dialog lists the client's channel under it and the console holds a key for
it. A stranger then lands, with no session, a forged revocation of that channel, a forged grant through a
state no link handed out, and forty redirects with empty channel lists: no channel, key, client or alert
changes. An operator sees all of them held, with the client named, and discards them in one action.
"""

from __future__ import annotations

import re
import sqlite3
import time
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

PASSWORD = "browser-forged-password"
BUSINESS = "Forged Test Bakery"
EMPTY_LISTS = 40


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

    def write(self, sql: str, params: tuple = ()) -> None:
        with sqlite3.connect(self.stack.data_dir / "console.db") as db:
            db.execute(sql, params)

    def what_a_redirect_may_change(self) -> dict[str, list[tuple]]:
        return {
            "channels": self.query("select id, client_id, permission, revoked from channels order by id"),
            "keys": self.query("select id, channel_id, status from api_keys order by id"),
            "clients": self.query("select id from clients order by id"),
            "alerts": self.query("select count(*) from alerts"),
            "permission audit": self.query("select count(*) from audit where action = 'permission_revoked'"),
        }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path_factory.mktemp("hub"))
        data_dir = tmp_path_factory.mktemp("live-console")
        env = live_env_against(hub, data_dir, PASSWORD)
        running = start_stack(data_dir, env)
        try:
            yield Live(running, hub)
        finally:
            assert running.stop() == 0, running.log_path.read_text()


def sign_in(page, url: str, name: str = "dora") -> None:
    sign_in_with_password(page, url, PASSWORD, name)


def onboard_a_real_client(live: Live, browser) -> tuple[str, str]:
    """A client onboards through a link handed out here; their redirect is applied once the hub lists the new
    channel. Returns (client id, channel id)."""
    operator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(operator, live.url)
    # The console opens on its home page; links are handed out on Connect.
    operator.get_by_role("link", name="Connect", exact=True).click()
    href = hand_out_a_link(operator)
    operator.context.close()
    client = browser.new_context().new_page()
    client.goto(href)
    client.fill("#business_name", BUSINESS)
    client.fill("#numbers", "+49 151 0000051")
    client.check("#grant")
    client.click("#submit")
    client.wait_for_url(re.compile(r"/landing"))
    expect(client.get_by_role("heading", name="Onboarding complete")).to_be_visible()
    client.context.close()
    wait_for(lambda: live.query("select 1 from redirects where verdict = 'applied_state'"), timeout=60)
    [(channel_id, client_id)] = live.query("select id, client_id from channels")
    return client_id, channel_id


def test_forged_redirects_change_nothing_and_an_operator_discards_them_at_once(live: Live, browser) -> None:
    # The old behaviour: the landing asked 360dialog, which lists the channel under the client, so the forged
    # revocation was applied (key unusable, "Permission revoked"), the forged grant passed the Direct-Paid gate,
    # and every empty list made a client.
    client_id, channel_id = onboard_a_real_client(live, browser)
    live.write(
        "insert into api_keys (channel_id, operator, created_at, outcome, status) values (?, ?, ?, 'ok', 'active')",
        (channel_id, "dora", "2026-12-01T10:00:00+00:00"),
    )
    live.write("update channels set permission = 'not_shared' where id = ?", (channel_id,))
    before = live.what_a_redirect_may_change()

    stranger = browser.new_context().new_page()
    # The stranger's page says what the query says, and nothing the console knows.
    forged = {
        f"client={client_id}&channels=%5B%5D&revoked=%5B{channel_id}%5D": "No number was shared",
        f"client={client_id}&channels=%5B{channel_id}%5D&state=never-handed-out": "Onboarding complete",
        **{f"client=big{number}CL&channels=%5B%5D": "No number was shared" for number in range(EMPTY_LISTS)},
    }
    for query, heading in forged.items():
        stranger.goto(f"{live.url}/landing?{query}")
        expect(stranger.get_by_role("heading", name=heading)).to_be_visible()
    stranger.context.close()
    time.sleep(3)  # the scheduler looks every second: it must not act on any of them either

    assert live.what_a_redirect_may_change() == before
    held = live.query("select count(*) from redirects where verdict = 'held'")
    assert held == [(len(forged),)]

    operator = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(operator, live.url)
    open_navigation(operator)  # the sidebar starts collapsed
    operator.get_by_role("link", name="Redirects", exact=True).click()
    expect(operator.get_by_role("heading", name=f"Waiting for review ({len(forged)})")).to_be_visible()
    screenshot(operator, "forged-redirects-1280")
    # Newest first: the two forged at the real client are on the last page, named as the console knows it.
    last = operator.get_by_label("Page (of 3)")
    last.fill("3")
    last.press("Enter")
    expect(operator.get_by_text(f"Client: {BUSINESS} ({client_id})")).to_have_count(2)
    expect(operator.get_by_text(f"Grants: {channel_id} (+49 151 0000051, {BUSINESS})")).to_be_visible()
    screenshot(operator, "forged-redirects-last-page-1280")
    operator.set_viewport_size({"width": 800, "height": 900})
    screenshot(operator, "forged-redirects-800")
    operator.get_by_role("button", name=f"Discard the {len(forged)} unreviewed redirect(s) from every source").click()
    expect(operator.get_by_text("No redirect is waiting for review.")).to_be_visible()
    assert live.query("select count(*) from redirects where verdict = 'discarded'") == [(len(forged),)]
    audit = live.query("select operator, detail from audit where action = 'redirect_discard_bulk'")
    assert audit == [("dora", f"{len(forged)} unreviewed redirect(s) from every source discarded")]
    assert live.what_a_redirect_may_change() == before
    operator.context.close()
