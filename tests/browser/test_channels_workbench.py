"""The Channels page as ops use it, on the demo with the realistic scenario loaded: the work queue first, a row
opens its channel in its own view named by number and business, and the page reads at 1280x800 and 800 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_demo_controls import load_the_scenario, open_demo, query
from tests.support.screens import screenshot
from tests.support.stack import RunningStack

ROW_HEIGHT = 35  # Streamlit's data grid: the header and each row


def select_first_row(page, grid) -> None:
    """The grid draws on a canvas: click its first row's selection box, left of the first column (on screen:
    at 800 px the open sidebar pushes the grid below the fold)."""
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + ROW_HEIGHT * 1.5)


@pytest.fixture
def sized_page(browser, request):
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _scenario_loaded(page, stack: RunningStack) -> None:
    if query(stack, "select count(*) from channels")[0][0] >= 150:
        return
    open_demo(page, stack)
    load_the_scenario(page, stack)


@pytest.mark.parametrize("sized_page", [(1280, 800), (800, 900)], indirect=True, ids=["1280x800", "800px"])
def test_the_queue_opens_a_channel_named_by_number_and_business(stack: RunningStack, sized_page) -> None:
    page = sized_page
    _scenario_loaded(page, stack)
    width = page.viewport_size["width"]
    page.goto(f"{stack.public_url}/channels")
    expect(page.get_by_role("heading", name=re.compile(r"^Needs attention \(\d+\)"))).to_be_visible()
    grid = page.locator("[data-testid=stDataFrame]").first
    expect(grid.locator("[role=gridcell]", has_text=re.compile(r"^\+\d")).first).to_be_attached()
    screenshot(page, f"channels-queue-{width}")

    # A row of the queue opens that channel, and the view names it as the row did.
    label = grid.locator("[role=gridcell]", has_text=re.compile(r"^\+\d")).first.inner_text().strip()
    select_first_row(page, grid)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name=label)).to_be_visible()
    expect(dialog.get_by_role("button", name=re.compile(re.escape(label)))).not_to_have_count(0)
    assert "open=" in page.url
    screenshot(page, f"channel-view-{width}")

    # Closing the view leaves the list as it was, and the link no longer names a channel.
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    page.wait_for_url(lambda url: "open=" not in url)
