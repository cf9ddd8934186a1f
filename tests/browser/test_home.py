"""The home page in a real browser, with the demo scenario loaded: the console opens on the day's picture with
its navigation in view, a reason chip opens the work queue narrowed to it (the chip in the URL), and a queue
row opens its channel. Screenshots at 1280x800 and 800x700 (docs/screenshots/home*.png with
UPDATE_SCREENSHOTS=1: the README shows the first)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.navigation import sidebar_open
from tests.support.screens import screenshot
from tests.support.servers import wait_for
from tests.support.stack import RunningStack

WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 800, "height": 700}


@pytest.fixture
def screen(browser, request):
    context = browser.new_context(viewport=request.param)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def scenario(stack: RunningStack, browser) -> RunningStack:
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    page.goto(f"{stack.public_url}/demo")
    page.get_by_role("button", name="Load realistic scenario").click()
    expect(page.get_by_text("Scenario loaded")).to_be_visible(timeout=240_000)
    # The answer sits under the button, in words.
    expect(page.get_by_text(re.compile(r"40 clients and 150 channels \(\d+ running"))).to_be_visible()
    context.close()
    return stack


@pytest.mark.parametrize("screen", [WIDE], indirect=True)
def test_the_console_opens_on_the_day_with_the_navigation_in_view(scenario: RunningStack, screen) -> None:
    page = screen
    page.goto(scenario.public_url)
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Needs attention now \(\d+\)"))).to_be_visible()
    expect(page.get_by_role("heading", name="Firing alerts")).to_be_visible()
    expect(page.get_by_text("Last sync from the Partner API:")).to_be_visible()
    wait_for(lambda: sidebar_open(page), timeout=10)
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name="Today")).to_be_visible()
    expect(page.get_by_text("Demo mode: a built-in sandbox hub stands in for 360dialog.")).to_be_visible()
    screenshot(page, "home")

    # A reason chip opens the work queue narrowed to it, and the URL keeps the chip for a reload.
    page.get_by_role("link", name=re.compile(r"^stuck \(\d+\)$")).click()
    expect(page.get_by_role("heading", name="Channels and keys")).to_be_visible()
    assert page.url.endswith("/channels?needs=stuck")
    page.reload()
    expect(page.get_by_role("heading", name=re.compile(r"^Needs attention"))).to_be_visible()
    assert "needs=stuck" in page.url


@pytest.mark.parametrize("screen", [NARROW], indirect=True)
def test_the_day_at_800_pixels(scenario: RunningStack, screen) -> None:
    page = screen
    page.goto(scenario.public_url)
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Needs attention now"))).to_be_visible()
    screenshot(page, "home-800")
    # A row of the queue opens its channel's own view.
    page.get_by_role("link", name=re.compile(r"^\+\d[\d ]+ .* · [a-z]")).first.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert re.search(r"/channels\?open=\w+", page.url)
    screenshot(page, "home-800-channel")
