"""The popup path: the Connect page opens the IO link in a popup, the landing stores it and closes the popup,
and the Connect page shows the result without a reload."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import expect

from tests.support.connect import hand_out_a_link
from tests.support.stack import RunningStack


def test_popup_onboarding_reports_back_to_the_connect_page(stack: RunningStack, page) -> None:
    # Connect is the default page: Streamlit serves it at the root (under /connect it shows "Page not found").
    page.goto(f"{stack.public_url}/connect")
    href = hand_out_a_link(page)
    button_frame = page.frame_locator("iframe[title='Open the onboarding link in a popup']")

    with page.expect_popup() as opened:
        button_frame.get_by_role("button", name="Open in a popup").click()
    popup = opened.value
    popup.wait_for_load_state()
    hub_url = popup.url
    # The popup opened the console link, which sent it on to the hub with a signature made for this visit.
    assert href.startswith(f"{stack.public_url}/connect/")
    assert popup.url.startswith(f"{stack.sandbox_url}/dashboard/app/demoPA/permissions?")
    assert "io_signature=" in popup.url
    assert popup.evaluate("window.opener !== null")
    # The official button's popup size.
    assert popup.evaluate("[window.outerWidth, window.outerHeight]") == [600, 920]

    popup.fill("#business_name", "Popup Bakery")
    popup.fill("#numbers", "+49 151 0000011")
    popup.check("#grant")
    # The landing page stores the redirect, then closes the window the Connect page opened.
    with popup.expect_event("close", timeout=60_000):
        popup.click("#submit")

    with sqlite3.connect(stack.data_dir / "console.db") as db:
        rows = db.execute("select client_id, state, state_match from redirects").fetchall()
    assert len(rows) == 1
    client_id, state, state_match = rows[0]
    assert state_match == "matched"
    assert f"state={state}" in hub_url

    # No reload: the page's polling fragment finds the redirect for its own link.
    expect(page.get_by_text("The client came back through this link; the redirect was applied")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_text(re.compile(rf"^Client: .*{client_id}"))).to_be_visible()
    # The link has done its job: its hand-out gives way to the result, and the next client needs a new link.
    expect(page.get_by_role("link", name="Open onboarding")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile(r"49 ?151 ?0000011"))).to_be_visible(timeout=30_000)
