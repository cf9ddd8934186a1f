"""The demo page's controls, clicked in a real browser against the three real processes.

Also screenshots each page with the seeded scenario loaded: into test-artifacts/screenshots, or, with
UPDATE_SCREENSHOTS=1, into docs/screenshots for the README (so an ordinary test run leaves git clean).
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from playwright.sync_api import expect

from services.demo.hub_client import SandboxClient
from tests.support.connect import hand_out_a_link
from tests.support.screens import screenshot
from tests.support.servers import wait_for
from tests.support.stack import RunningStack

SCREEN = {"width": 1280, "height": 800}


@pytest.fixture
def wide_page(browser):
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def sandbox(stack: RunningStack):
    secrets = json.loads((stack.data_dir / "demo-secrets.json").read_text())
    client = SandboxClient(stack.sandbox_url, secrets["partner_api_key"])
    yield client
    client.close()


def query(stack: RunningStack, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        return db.execute(sql, params).fetchall()


def open_demo(page, stack: RunningStack) -> None:
    page.goto(f"{stack.public_url}/demo")
    expect(page.get_by_role("heading", name="Demo controls")).to_be_visible()


def click_and_expect(page, button: str, outcome: str) -> None:
    page.get_by_role("button", name=button).click()
    expect(page.get_by_text(outcome)).to_be_visible()


def selected_channel(page) -> str:
    box = page.get_by_role("combobox", name="Channel")
    expect(box).to_have_value(re.compile(r"\w+CH$"))
    return re.search(r"\b(\w+CH)\b", box.input_value()).group(1)


def choose(page, label: str, option: str) -> None:
    """Pick an option by typing it, then clicking it among the options that match: typing opens the list again
    when a rerun closed it."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)


def load_the_scenario(page, stack: RunningStack) -> None:
    """Press "Load realistic scenario" on the open Demo page and wait until the receiver stored every webhook
    the page says is on its way."""
    click_and_expect(page, "Load realistic scenario", "Scenario loaded")
    told = page.get_by_text("webhooks on their way to the receiver").inner_text()
    queued = int(re.search(r"([\d,]+) webhooks on their way", told).group(1).replace(",", ""))
    wait_for(lambda: query(stack, "select count(*) from events")[0][0] >= queued, timeout=120)


def test_demo_page_is_in_the_navigation(stack: RunningStack, page) -> None:
    page.goto(stack.public_url)
    link = page.get_by_role("link", name="Demo controls")
    expect(link).to_be_attached()
    page.goto(link.get_attribute("href"))
    expect(page.get_by_role("heading", name="Demo controls")).to_be_visible()
    expect(page.get_by_text("No channel yet")).to_be_visible()


def test_load_the_scenario_and_screenshot_every_page(stack: RunningStack, wide_page) -> None:
    page = wide_page
    open_demo(page, stack)
    load_the_scenario(page, stack)
    assert query(stack, "select count(*) from channels") == [(150,)]
    assert query(stack, "select count(*) from api_keys where outcome = 'ok'") == [(30,)]
    screenshot(page, "demo")

    page.goto(f"{stack.public_url}/connect")
    hand_out_a_link(page)
    screenshot(page, "connect")
    page.goto(f"{stack.public_url}/events")
    expect(page.locator("[role=gridcell]").first).to_be_attached()
    screenshot(page, "events")
    page.goto(f"{stack.public_url}/channels")
    expect(page.get_by_role("heading", name="Channels and keys")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Needs attention"))).to_be_visible()
    screenshot(page, "channels")
    page.get_by_role("heading", name="All channels").scroll_into_view_if_needed()
    screenshot(page, "channels-list")
    (running_id,) = query(stack, "select id from channels where status = 'running' order by id limit 1")[0]
    page.goto(f"{stack.public_url}/channels?open={running_id}")
    expect(page.get_by_role("dialog").get_by_text("Timeline")).to_be_visible()
    screenshot(page, "channel-view")
    page.goto(f"{stack.public_url}/clients")
    expect(page.get_by_role("heading", name="Clients")).to_be_visible()
    screenshot(page, "clients")
    page.goto(f"{stack.public_url}/alerts")
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    screenshot(page, "alerts")
    page.goto(f"{stack.public_url}/audit")
    expect(page.get_by_role("heading", name="Audit")).to_be_visible()
    screenshot(page, "audit")
    (raw_query,) = query(stack, "select raw_query from redirects order by id limit 1")[0]
    page.goto(f"{stack.public_url}/landing?{raw_query}")
    page.get_by_role("button", name="Operator view").click()
    expect(page.get_by_text("Onboarding finished")).to_be_visible()
    screenshot(page, "landing")
    page.goto(f"{stack.public_url}/receiver")
    expect(page.get_by_role("heading", name="Receiver health")).to_be_visible()
    screenshot(page, "receiver")


NARROW = {"width": 800, "height": 900}
REGENERATE = "Client regenerates its own key in its hub"


def show_middle(locator) -> None:
    """Scroll so the control sits mid-screen, its neighbours around it in the screenshot."""
    locator.evaluate("element => element.scrollIntoView({block: 'center'})")


def test_the_client_regenerates_its_key_and_the_page_stays_readable(
    stack: RunningStack, wide_page, browser, sandbox: SandboxClient
) -> None:
    page = wide_page
    keyed = query(
        stack,
        """select channels.id, channels.phone_number, clients.name from api_keys
           join channels on channels.id = api_keys.channel_id join clients on clients.id = channels.client_id
           where api_keys.outcome = 'ok' and api_keys.status = 'active' order by channels.id limit 1""",
    )
    assert keyed, "the scenario loaded above holds keys"
    channel_id, number, business = keyed[0]
    open_demo(page, stack)
    box = page.get_by_role("combobox", name="Channel")
    box.click()
    box.fill(channel_id)
    page.keyboard.press("Enter")
    expect(box).to_have_value(re.compile(f"^{re.escape(business)} · {re.escape(number)} · .* · {channel_id}$"))
    expect(page.get_by_text(f"Or {business} generates its own key for {number}")).to_be_visible()
    show_middle(page.get_by_role("button", name=REGENERATE))
    screenshot(page, "demo-controls")

    click_and_expect(page, REGENERATE, "1 partner key(s) stopped working")
    (detail,) = query(stack, "select detail from audit where action = 'demo_regenerate_key' order by id desc limit 1")[
        0
    ]
    assert f"{business} ({number})" in detail
    # No event tells the console: the hub sent none for it.
    assert not [row for row in sandbox.outbox(20) if row["channel_id"] == channel_id and "key" in row["event"]]

    narrow = browser.new_context(viewport=NARROW)
    try:
        small = narrow.new_page()
        small.set_default_timeout(30_000)
        open_demo(small, stack)
        show_middle(small.get_by_role("button", name=REGENERATE))
        expect(small.get_by_role("button", name=REGENERATE)).to_be_visible()
        screenshot(small, "demo-controls-narrow")
        show_middle(small.get_by_role("button", name="Send portfolio limit"))
        screenshot(small, "demo-controls-narrow-lower")
        show_middle(small.get_by_text("Webhook read answers 404"))
        screenshot(small, "demo-switches-narrow")
        # Nothing runs off the side at 800 px: the page scrolls down, never across.
        assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        narrow.close()


def test_quality_change_reaches_the_console(stack: RunningStack, page) -> None:
    open_demo(page, stack)
    channel_id = selected_channel(page)
    choose(page, "Quality rating", "RED")
    choose(page, "Messaging limit", "TIER_50")
    click_and_expect(page, "Send quality change", "The quality change is on its way to the receiver")
    wait_for(
        lambda: query(
            stack,
            "select quality_rating, messaging_limit from channels where id = ? and quality_rating = 'RED'",
            (channel_id,),
        )
    )
    assert query(stack, "select messaging_limit from channels where id = ?", (channel_id,)) == [("TIER_50",)]


def test_revocation_is_stored_as_a_redirect(stack: RunningStack, page) -> None:
    open_demo(page, stack)
    channel_id = selected_channel(page)
    click_and_expect(page, "Client revokes permission", "Permission withdrawn")
    assert query(stack, "select revoked, permission from channels where id = ?", (channel_id,)) == [(1, "revoked")]
    (revoked,) = query(stack, "select revoked from redirects order by id desc limit 1")[0]
    assert json.loads(revoked) == [channel_id]


def test_account_violation_reaches_the_console(stack: RunningStack, page) -> None:
    open_demo(page, stack)
    channel_id = selected_channel(page)
    (phone,) = query(stack, "select phone_number from channels where id = ?", (channel_id,))[0]
    click_and_expect(page, "Send account violation", "The account violation is on its way to the receiver")
    # 360dialog names the number, not the channel; the event is stored and touches no channel row.
    digits = "".join(character for character in phone if character.isdigit())
    wait_for(
        lambda: query(
            stack,
            "select 1 from events where event_type = 'account_violation' and channel_id is null and raw_body like ?",
            (f'%"phone_number": "{digits}"%',),
        )
    )


def test_a_stuck_channel_never_runs(stack: RunningStack, page, sandbox: SandboxClient) -> None:
    open_demo(page, stack)
    page.get_by_label("Business name").fill("Stuck Studio Test")
    click_and_expect(page, "Onboard a stuck channel", "the channel will stay pending")
    (client_id,) = query(
        stack,
        "select id from clients where id in (select client_id from redirects) order by first_seen_at desc limit 1",
    )[0]
    (channel_id,) = query(stack, "select id from channels where client_id = ?", (client_id,))[0]
    wait_for(
        lambda: query(
            stack, "select 1 from events where event_type = 'channel_created' and channel_id = ?", (channel_id,)
        )
    )
    page.wait_for_timeout(5000)  # longer than the stack's running delay (2 s)
    assert query(stack, "select status from channels where id = ?", (channel_id,)) == [("pending",)]
    assert {row["event"] for row in sandbox.outbox(1000) if row["channel_id"] == channel_id} == {"channel_created"}


def test_send_again_and_send_twice_make_duplicates(stack: RunningStack, page, sandbox: SandboxClient) -> None:
    open_demo(page, stack)
    newest = sandbox.outbox(1)[0]
    wait_for(lambda: sandbox.outbox(1)[0]["delivered_at"])
    body_id = query(stack, "select id, duplicate_count from events order by id desc limit 1")[0]
    click_and_expect(page, "Send again", "Queued again")
    wait_for(lambda: query(stack, "select duplicate_count from events where id = ?", (body_id[0],))[0][0] > body_id[1])
    assert sandbox.outbox(1)[0]["event"] == newest["event"]

    page.get_by_text("Send every webhook twice").click()
    expect(page.get_by_text("Delivery switches saved")).to_be_visible()
    # The saved note may still be the one before: the hub's own switch says when this click has landed.
    wait_for(lambda: sandbox.switches()["send_twice"] is True)
    click_and_expect(page, "Send account violation", "The account violation is on its way to the receiver")
    wait_for(
        lambda: query(stack, "select 1 from events where event_type = 'account_violation' and duplicate_count >= 1")
    )
    page.get_by_text("Send every webhook twice").click()
    expect(page.get_by_text("Delivery switches saved")).to_be_visible()
    wait_for(lambda: sandbox.switches()["send_twice"] is False)


def test_reset_empties_the_hub_and_the_console(stack: RunningStack, page, sandbox: SandboxClient) -> None:
    open_demo(page, stack)
    expect(page.get_by_role("button", name="Reset demo")).to_be_disabled()
    page.get_by_text("Yes, erase the demo data").click()
    click_and_expect(page, "Reset demo", "Demo reset")
    assert query(stack, "select count(*) from channels") == [(0,)]
    assert query(stack, "select count(*) from events") == [(0,)]
    assert sandbox.outbox(10) == []
    expect(page.get_by_text("No channel yet")).to_be_visible()
