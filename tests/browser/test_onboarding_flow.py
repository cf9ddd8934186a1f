"""Steps 2 to 8 of the onboarding loop, as a user does them, against the three real processes."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import expect

from tests.support.connect import hand_out_a_link
from tests.support.screens import screenshot
from tests.support.stack import RunningStack, wait_until_running


def test_connect_onboard_and_generate_key(stack: RunningStack, page) -> None:
    # 2. The Connect page shows the partner id, and a link that opens IO once asked for one.
    page.goto(stack.public_url)
    expect(page.get_by_text("demoPA").first).to_be_visible()
    href = hand_out_a_link(page)
    assert href.startswith(f"{stack.public_url}/connect/")

    # 3. The sandbox hub plays 360dialog: business name, numbers, permission. The console link signs the visit.
    page.goto(href)
    assert page.url.startswith(f"{stack.sandbox_url}/dashboard/app/demoPA/permissions?")
    assert "redirect_url=http%3A%2F%2Flocalhost" in page.url
    assert "%2Flanding" in page.url
    page.fill("#business_name", "Acme Bakery")
    page.fill("#numbers", "+49 151 0000001\n+49 151 0000002")
    page.check("#grant")
    page.click("#submit")

    # 4. The redirect lands on the console, is stored, and shows the client and its channels.
    page.wait_for_url(re.compile(r"/landing"))
    expect(page.get_by_text("Onboarding finished")).to_be_visible()
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        client_id, channels = db.execute("select client_id, channels from redirects").fetchone()
    assert client_id.endswith("CL")
    channel_ids = re.findall(r"\w+CH", channels)
    assert len(channel_ids) == 2
    expect(page.get_by_text(client_id)).to_be_visible()

    # 5 and 6. Signed webhooks reach the receiver; the Events page shows them.
    page.goto(f"{stack.public_url}/events")
    # The table is a data grid: its cells are exposed to assistive technology as grid cells.
    expect(page.locator("[role=gridcell]", has_text="channel_created").first).to_be_attached()
    expect(page.locator("[role=gridcell]", has_text="channel_running").first).to_be_attached(timeout=30_000)

    # 6 and 7. The Channels page lists the running number; its own view offers the key, naming the number.
    wait_until_running(stack, channel_ids[0])
    page.goto(f"{stack.public_url}/channels")
    # channel_running names no number, and the events before it only its digits: the number as the client wrote
    # it comes from the Partner API.
    page.get_by_role("button", name="Sync all from the Partner API").click()
    expect(page.get_by_text(re.compile(r"^Sync done: "))).to_be_visible()
    expect(page.locator("[role=gridcell]", has_text="+49 151 0000001").first).to_be_attached()
    page.goto(f"{stack.public_url}/channels?open={channel_ids[0]}")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(re.compile(r"^status: running"))).to_be_visible()
    dialog.get_by_role("button", name=re.compile(r"^Generate key for \+49 151 0000001")).click()
    expect(dialog.get_by_text("It is shown once")).to_be_visible()
    dialog.get_by_role("button", name="Reveal key").click()
    expect(page.get_by_role("button", name="Hide key")).to_be_visible()
    shown_key = page.locator("code").first.inner_text().strip()
    assert len(shown_key) >= 24
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        encrypted, last4 = db.execute("select key_encrypted, key_last4 from api_keys where outcome = 'ok'").fetchone()
    assert shown_key not in encrypted
    assert shown_key.endswith(last4)

    # 8. The key is made ready to use at once: checked, the number's messaging webhook set and read back, on the
    # Messaging API the key answer pointed at.
    for step in ("key checked", "messaging webhook set", "webhook read back"):
        expect(page.get_by_text(re.compile(rf"^✅ {step}: ok")).first).to_be_visible(timeout=20_000)
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        (channel_id,) = db.execute("select channel_id from api_keys where outcome = 'ok'").fetchone()
        steps = dict(db.execute("select step, status from key_steps").fetchall())
    assert steps == {"check_key": "ok", "set_webhook": "ok", "read_back": "ok"}
    with sqlite3.connect(stack.data_dir / "sandbox.db") as hub:
        (url,) = hub.execute("select url from messaging_webhooks where channel_id = ?", [channel_id]).fetchone()
    assert url == f"https://messages.example.com/whatsapp/{channel_id}"
    dialog.get_by_text("Ready to use", exact=True).scroll_into_view_if_needed()
    screenshot(page, "key-ready")
