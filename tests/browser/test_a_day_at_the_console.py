"""A day at the console, walked in one go in a real browser against the real stack: a burst of stuck numbers
spends the hour's alert cap, then a number turns RED and its alert reaches the sink at once; a number typed with
00 and a name typed without its accents are found on Events, Channels and Clients, and moving between pages
carries no filter; a client who cancels in the hub is told "cancelled"; the bulk key file names every number.
Screenshots at 1280x800 and 800x700."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from services.demo.hub_client import SandboxClient
from tests.browser.test_alerts import inbox_titles
from tests.browser.test_search_everywhere import NUMBER_WITH_00, _search, _searches_in_url, _seed
from tests.support.console import console_db
from tests.support.navigation import open_navigation
from tests.support.screens import screenshot
from tests.support.servers import wait_for
from tests.support.stack import RunningStack, start_stack, wait_until_running

CAP = 3
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 800, "height": 700}
# What 360dialog's hub sends back when the client cancels (OAuth's convention, contract section 5).
CANCEL = "error=access_denied&error_reason=user_denied&error_description=Permissions%20error"
RED_TITLE = "Critical: Quality dropped or low: Red Bistro, +49 151 7770001"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("day"),
        {
            "CONSOLE_ALERT_CHECK_SECONDS": "1",
            "CONSOLE_ALERT_STUCK_MINUTES": "0.05",
            "CONSOLE_ALERT_MAX_PER_HOUR": str(CAP),
        },
    )
    yield running
    assert running.stop() == 0, running.log_path.read_text()


@pytest.fixture(scope="module")
def sandbox(day: RunningStack) -> Iterator[SandboxClient]:
    secrets = json.loads((day.data_dir / "demo-secrets.json").read_text())
    client = SandboxClient(day.sandbox_url, secrets["partner_api_key"])
    yield client
    client.close()


def count(stack: RunningStack, sql: str) -> int:
    with console_db(stack.data_dir / "console.db") as db:
        return db.execute(sql).fetchone()[0]


def sent_messages(stack: RunningStack) -> int:
    return count(stack, "select count(*) from alert_messages where kind != 'test'")


def held_alerts(stack: RunningStack) -> int:
    return count(stack, "select count(*) from alerts where state = 'firing' and fired_message_id is null")


def both_widths(page, name: str) -> None:
    page.set_viewport_size(WIDE)
    page.mouse.move(0, 0)
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(NARROW)
    screenshot(page, f"{name}-800")
    page.set_viewport_size(WIDE)


def test_a_day_at_the_console(day: RunningStack, sandbox: SandboxClient, browser) -> None:
    page = browser.new_context(viewport=WIDE).new_page()
    page.set_default_timeout(30_000)

    # Morning: a burst of numbers stuck in onboarding spends the hour's cap, and more wait behind it.
    for number in range(1, CAP + 1):
        sandbox.onboard(f"Burst {number}", [f"+49 151 60000{number:02d}"], never_running=True)
        wait_for(lambda wanted=number: sent_messages(day) >= wanted, timeout=60)
    for number in range(CAP + 1, CAP + 6):
        sandbox.onboard(f"Burst {number}", [f"+49 151 60000{number:02d}"], never_running=True)
    wait_for(lambda: held_alerts(day) >= 5, timeout=60)

    # Then a number turns RED: its alert reaches the sink at once, past the cap.
    [red_id] = sandbox.onboard("Red Bistro", ["+49 151 7770001"])["channel_ids"]
    wait_until_running(day, red_id)
    sandbox.change_quality(red_id, quality="RED", limit="TIER_250")
    wait_for(lambda: RED_TITLE in inbox_titles(sandbox), timeout=30)
    assert held_alerts(day) >= 5
    page.goto(f"{day.public_url}/")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    both_widths(page, "day-home")
    page.goto(f"{day.public_url}/alerts")
    expect(page.get_by_text(re.compile(r"warning alerts held by the hourly cap until \d\d:\d\d UTC"))).to_be_visible()
    expect(page.get_by_text(RED_TITLE).first).to_be_visible()
    both_widths(page, "day-alerts")

    # A client calls about "0034 600-111-222", another about "Cafe": found on all three pages.
    _seed(day)
    for typed in (NUMBER_WITH_00, "Cafe"):
        page.goto(f"{day.public_url}/events")
        _search(page, typed)
        expect(page.get_by_text("3 matching events")).to_be_visible()
        page.goto(f"{day.public_url}/channels")
        _search(page, typed)
        expect(page.get_by_text("1 channel", exact=True)).to_be_visible()
        page.goto(f"{day.public_url}/clients")
        _search(page, typed)
        expect(page.get_by_text("1 client", exact=True)).to_be_visible()
    both_widths(page, "day-search")
    # Moving on through the sidebar carries no page's search along.
    for title, path in (("Events", "events"), ("Channels and keys", "channels"), ("Today", "")):
        open_navigation(page)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        page.wait_for_url(re.compile(rf"/{path}(\?|$)"))
        assert _searches_in_url(page) == [], page.url

    # A client gives up in 360dialog's hub: their browser comes back, and is told so, at both widths.
    client = browser.new_context(viewport=NARROW).new_page()
    client.goto(f"{day.public_url}/landing?{CANCEL}")
    expect(client.get_by_role("heading", name="Onboarding cancelled")).to_be_visible()
    expect(client.get_by_text("Onboarding complete")).to_have_count(0)
    both_widths(client, "day-client-cancelled")
    client.context.close()

    # Keys for every running number at once; the file handed on names each number and business.
    page.goto(f"{day.public_url}/channels")
    page.get_by_role("button", name=re.compile(r"^Generate keys for \d+ eligible channel")).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name=re.compile(r"^Generate \d+ keys?$")).click()
    download_button = dialog.get_by_role("button", name=re.compile(r"^Download the \d+ new keys? \(CSV, once\)"))
    expect(download_button).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        download_button.click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    keyed = count(day, "select count(*) from api_keys where outcome = 'ok' and status = 'active'")
    assert rows
    assert len(rows) == keyed
    assert all(row["number"] and row["business"] and row["api_key"] for row in rows)
    # A leading "+" would start a spreadsheet formula: the file quotes it, as every export here does.
    assert "+49 151 7770001" in {row["number"].removeprefix("'") for row in rows}
    page.context.close()
