"""Connect makes a link only when asked: loading or reloading the page adds no row to io_links. Once the client
is back through the current link, its hand-out gives way to the result, each number opening its channel."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import expect

from tests.support.connect import hand_out_a_link
from tests.support.screens import screenshot
from tests.support.stack import RunningStack

NUMBER = "+49 151 0000041"


def link_count(stack: RunningStack) -> int:
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        return db.execute("select count(*) from io_links").fetchone()[0]


def open_connect(page, stack: RunningStack) -> None:
    page.goto(f"{stack.public_url}/connect")
    expect(page.get_by_text("No link yet.")).to_be_visible()
    expect(page.get_by_role("heading", name="Links handed out")).to_be_visible()


def test_loading_the_page_makes_no_link_and_the_result_replaces_the_hand_out(stack: RunningStack, browser) -> None:
    # The old behaviour: every load of the page made a link, so most of the history was links nobody handed out.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    before = link_count(stack)
    open_connect(page, stack)
    page.wait_for_timeout(2500)  # the page's polling fragments run at least once more
    assert link_count(stack) == before
    page.reload()
    expect(page.get_by_text("No link yet.")).to_be_visible()
    page.wait_for_timeout(2500)
    assert link_count(stack) == before
    screenshot(page, "connect-no-link")

    href = hand_out_a_link(page)
    assert link_count(stack) == before + 1
    page.mouse.move(0, 0)  # no tooltip over the page
    screenshot(page, "connect-link")

    # The client onboards in a browser of their own.
    client_context = browser.new_context(viewport={"width": 800, "height": 900})
    client = client_context.new_page()
    client.goto(href)
    client.fill("#business_name", "On Demand Bakery")
    client.fill("#numbers", NUMBER)
    client.check("#grant")
    client.click("#submit")
    client.wait_for_url(re.compile(r"/landing"))
    # In demo mode the browser sees the client's page; the operator's view, one button away, names the client
    # and links its number.
    expect(client.get_by_role("heading", name="Onboarding complete")).to_be_visible()
    client.get_by_role("button", name="Operator view").click()
    expect(client.get_by_role("link", name=re.compile(r"49 ?151 ?0000041"))).to_be_visible(timeout=30_000)
    screenshot(client, "landing-operator-800")
    client_context.close()

    # No reload: the hand-out gives way to the result, and "New link" is the way on.
    expect(page.get_by_text("The client came back through this link")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="Open onboarding")).to_have_count(0)
    expect(page.locator("iframe[title='Open the onboarding link in a popup']")).to_have_count(0)
    expect(page.get_by_role("button", name="New link")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Client: On Demand Bakery \(\w+CL\)$"))).to_be_visible(timeout=30_000)
    channel_link = page.get_by_role("link", name=re.compile(r"49 ?151 ?0000041"))
    expect(channel_link).to_be_visible(timeout=30_000)
    page.mouse.move(0, 0)
    screenshot(page, "connect-result")
    page.set_viewport_size({"width": 800, "height": 800})
    expect(channel_link).to_be_visible()
    screenshot(page, "connect-result-800")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert link_count(stack) == before + 1

    # Each number opens its own channel.
    channel_link.click()
    page.wait_for_url(re.compile(r"/channels\?open=\w+CH"))
    expect(page.get_by_role("dialog").get_by_text(re.compile(r"49 ?151 ?0000041")).first).to_be_visible()

    # Back on Connect in a fresh load: no link made, the history names the client and its number.
    open_connect(page, stack)
    history = page.locator("[role=gridcell]", has_text="On Demand Bakery")
    expect(history.first).to_be_attached(timeout=30_000)
    assert link_count(stack) == before + 1
    context.close()
