"""Generate a key in a real browser: masked at first, revealed on demand (audited), copied with the copy button."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import expect

from tests.support.connect import hand_out_a_link
from tests.support.stack import RunningStack, wait_until_running


@pytest.fixture
def clipboard_page(browser, stack: RunningStack):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def _onboard_one_number(page, stack: RunningStack) -> str:
    page.goto(f"{stack.public_url}/connect")
    href = hand_out_a_link(page)
    page.goto(href)
    page.fill("#business_name", "Key Shop")
    page.fill("#numbers", "+49 151 0000009")
    page.check("#grant")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/landing"))
    page.get_by_role("button", name="Operator view").click()
    expect(page.get_by_text("Onboarding finished")).to_be_visible()
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        (channels,) = db.execute("select channels from redirects order by id desc limit 1").fetchone()
    return re.findall(r"\w+CH", channels)[0]


def _new_key_in_its_channel_view(page, stack: RunningStack):
    """Onboard one number, open its channel's view by its link, generate its key there; returns the view."""
    channel_id = _onboard_one_number(page, stack)
    wait_until_running(stack, channel_id)
    page.goto(f"{stack.public_url}/channels?open={channel_id}")
    dialog = page.get_by_role("dialog")
    # The webhooks name the number by its digits (channel_running names none); a sync would bring it as written.
    dialog.get_by_role("button", name=re.compile(r"^Generate key for \+?49 ?151 ?0000009")).click()
    expect(dialog.get_by_text("It is shown once")).to_be_visible()
    return dialog


def test_generate_reveal_and_copy(stack: RunningStack, clipboard_page) -> None:
    page = clipboard_page
    dialog = _new_key_in_its_channel_view(page, stack)

    # Masked by default: only the last four characters show.
    masked = dialog.locator("code").first.inner_text().strip()
    assert masked.startswith("•" * 8)
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        (last4,) = db.execute("select key_last4 from api_keys where outcome = 'ok'").fetchone()
    assert masked.endswith(last4)

    dialog.get_by_role("button", name="Reveal key").click()
    expect(dialog.get_by_role("button", name="Hide key")).to_be_visible()
    key_block = dialog.locator("code").first
    expect(key_block).not_to_have_text(re.compile("•"))
    shown_key = key_block.inner_text().strip()
    assert shown_key.endswith(last4)
    assert len(shown_key) >= 24
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        reveals = db.execute("select operator, detail from audit where action = 'reveal_key'").fetchall()
    # Demo mode acts as the demo admin.
    assert reveals == [("demo", f"key ending {last4}")]

    # Streamlit's code block carries the copy button; it copies exactly the key.
    code_element = dialog.get_by_test_id("stCode").first
    code_element.hover()
    code_element.get_by_role("button", name="Copy to clipboard").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == shown_key


def test_leaving_before_the_key_is_stored_asks_first(stack: RunningStack, clipboard_page) -> None:
    page = clipboard_page
    dialog = _new_key_in_its_channel_view(page, stack)
    # The view holding the key has no close button: only "I have stored it" ends it.
    expect(dialog.get_by_role("button", name="Close")).to_have_count(0)

    asked: list[str] = []

    def stay(browser_dialog) -> None:
        asked.append(browser_dialog.type)
        browser_dialog.dismiss()  # the operator chooses to stay

    page.on("dialog", stay)
    # A reload asked from the page itself: Playwright's own reload would wait for a load the operator refused.
    page.evaluate("() => location.reload()")
    page.wait_for_timeout(1000)
    assert asked == ["beforeunload"]
    expect(dialog.get_by_text("It is shown once")).to_be_visible()

    dialog.get_by_role("button", name="I have stored it: forget it here").click()
    expect(dialog.get_by_text("It is shown once")).to_have_count(0)
    page.wait_for_timeout(500)
    page.reload()
    assert asked == ["beforeunload"]
