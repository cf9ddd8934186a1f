"""Steps 2 to 8 of the onboarding loop, as a user does them, against the real processes; then day two: the
client generates its own key in its hub, which no event announces, and the console finds out by itself."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from services.demo.hub_client import SandboxClient
from tests.support.connect import hand_out_a_link
from tests.support.screens import screenshot
from tests.support.servers import wait_for
from tests.support.stack import RunningStack, start_stack, wait_until_running

# Key health asks about every active key every 3 s here, and alerts go out every second: one round is short.
KEY_HEALTH_MINUTES = 0.05
ONE_ROUND_SECONDS = KEY_HEALTH_MINUTES * 60
KEY_STOPPED_TITLE = "Critical: Key stopped working: Acme Bakery, +49 151 0000001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("onboarding"),
        {
            "CONSOLE_KEY_HEALTH_MINUTES": str(KEY_HEALTH_MINUTES),
            "CONSOLE_KEY_HEALTH_ROUND_SECONDS": "1",
            "CONSOLE_ALERT_CHECK_SECONDS": "1",
        },
    )
    yield running
    assert running.stop() == 0, running.log_path.read_text()


@pytest.fixture(scope="module")
def sandbox(stack: RunningStack) -> Iterator[SandboxClient]:
    secrets = json.loads((stack.data_dir / "demo-secrets.json").read_text())
    client = SandboxClient(stack.sandbox_url, secrets["partner_api_key"])
    yield client
    client.close()


def active_key_health(db: sqlite3.Connection, channel_id: str) -> str | None:
    row = db.execute(
        "select h.status from key_health h join api_keys k on k.id = h.key_id"
        " where k.channel_id = ? and k.status = 'active'",
        [channel_id],
    ).fetchone()
    return row[0] if row else None


def inbox_titles(sandbox: SandboxClient) -> list[str]:
    return [message["title"] for message in sandbox.inbox(limit=200)]


def test_connect_onboard_generate_a_key_and_notice_when_it_stops(
    stack: RunningStack, sandbox: SandboxClient, page
) -> None:
    # 2. The Connect page shows the partner id, and a link that opens IO once asked for one.
    page.goto(f"{stack.public_url}/connect")
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
    expect(page.get_by_role("heading", name="Onboarding complete")).to_be_visible()
    page.get_by_role("button", name="Operator view").click()
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

    # 9. Day two: the client generates its own key in its 360dialog hub, which revokes the partner's; no event.
    stopped = sandbox.regenerate_key(channel_id)
    assert stopped["revoked_keys"] == 1
    # Within one key-health round (plus the process's wake-up and a loaded machine's slack) the console knows.
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        wait_for(lambda: active_key_health(db, channel_id) == "stopped", timeout=ONE_ROUND_SECONDS + 15)
    # The channel says so, with what to do, and one alert reaches the team.
    page.reload()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(re.compile(r"^❌ Key health: "))).to_be_visible()
    expect(dialog.get_by_text(re.compile(r"The key of .*\+49 151 0000001.* stopped working"))).to_be_visible()
    wait_for(lambda: KEY_STOPPED_TITLE in inbox_titles(sandbox), timeout=60)
    page.goto(f"{stack.public_url}/channels")
    expect(page.get_by_text("key stopped working").first).to_be_visible()
    screenshot(page, "key-stopped-work-queue")

    # 10. A new key clears it: made ready to use, checked healthy, and the alert is not sent again.
    page.goto(f"{stack.public_url}/channels?open={channel_id}")
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(re.compile(r"A new key revokes the current one: confirm")).click()
    dialog.get_by_role("button", name=re.compile(r"^Generate a new key for \+49 151 0000001")).click()
    expect(dialog.get_by_text("It is shown once")).to_be_visible()
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        wait_for(
            lambda: (
                db.execute(
                    "select h.status from key_health h join api_keys k on k.id = h.key_id"
                    " where k.channel_id = ? and k.status = 'active'",
                    [channel_id],
                ).fetchone()
                == ("ok",)
            ),
            timeout=60,
        )
    page.goto(f"{stack.public_url}/channels?open={channel_id}")
    expect(page.get_by_role("dialog").get_by_text(re.compile(r"^✅ Key health: "))).to_be_visible()
    # Several alert rounds later, still exactly one alert for the key that stopped.
    page.wait_for_timeout(3_000)
    assert inbox_titles(sandbox).count(KEY_STOPPED_TITLE) == 1
