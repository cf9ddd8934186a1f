"""The Alerts page in a real browser against the real stack in demo mode: its test button reaches the sandbox
hub's inbox, which the page shows; and the demo's stories (a channel that never runs, a quality drop, a
revocation) raise their alerts there through the scheduler, with no real Slack or mailbox. And a burst that
spends the hourly cap holds no RED number back: its alert reaches the inbox at once, and the page says what the
cap holds and until when."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from services.accounts import demo_person
from services.demo.controls import store_redirect_query
from services.demo.hub_client import SandboxClient
from services.partner_api import PartnerApi
from services.phone_numbers import spelled_out
from tests.support.console import console_db
from tests.support.screens import screenshot
from tests.support.servers import wait_for
from tests.support.stack import RunningStack, start_stack, wait_until_running

TEST_TITLE = "Test alert from the onboarding console"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # Rounds every second, and a channel counts as stuck after three seconds, so that a story shows at once.
    running = start_stack(
        tmp_path_factory.mktemp("alerts"),
        {"CONSOLE_ALERT_CHECK_SECONDS": "1", "CONSOLE_ALERT_STUCK_MINUTES": "0.05"},
    )
    yield running
    assert running.stop() == 0, running.log_path.read_text()


@pytest.fixture(scope="module")
def sandbox(stack: RunningStack) -> Iterator[SandboxClient]:
    secrets = json.loads((stack.data_dir / "demo-secrets.json").read_text())
    client = SandboxClient(stack.sandbox_url, secrets["partner_api_key"])
    yield client
    client.close()


def inbox_titles(sandbox: SandboxClient) -> list[str]:
    return [message["title"] for message in sandbox.inbox(limit=100)]


def test_the_test_button_reaches_the_demo_inbox_shown_on_the_page(stack: RunningStack, page) -> None:
    page.goto(f"{stack.public_url}/alerts")
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    hub_port = stack.sandbox_url.rsplit(":", 1)[1]
    expect(page.get_by_text(f"json://127.0.0.1:{hub_port}").first).to_be_visible()
    page.get_by_role("button", name="Send a test alert").click()
    expect(page.get_by_text(re.compile(rf"Test alert sent to json://127\.0\.0\.1:{hub_port}\."))).to_be_visible()
    # The history table holds the title too, in a cell only its canvas shows: the inbox entry is the visible one.
    expect(page.get_by_text(TEST_TITLE).filter(visible=True).first).to_be_visible()
    with console_db(stack.data_dir / "console.db") as db:
        assert db.execute(
            "select m.kind, d.status, d.attempts from alert_deliveries d join alert_messages m on m.id = d.message_id"
            " where m.kind = 'test'"
        ).fetchall() == [("test", "sent", 1)]


def test_the_demo_stories_raise_their_alerts_in_the_inbox(stack: RunningStack, sandbox: SandboxClient, page) -> None:
    stuck = sandbox.onboard("Stuck Studio", ["+49 151 4040404"], never_running=True)
    dropped = sandbox.onboard("Quality Cafe", ["+49 151 5550002"])
    [dropped_id] = dropped["channel_ids"]
    wait_until_running(stack, dropped_id)
    # From a known rating down: Meta reports each change, the console alerts on a drop.
    sandbox.change_quality(dropped_id, quality="GREEN", limit="TIER_1K")
    with console_db(stack.data_dir / "console.db") as db:
        wait_for(lambda: db.execute("select quality_rating from channels where id = ?", [dropped_id]).fetchone()[0])
    sandbox.change_quality(dropped_id, quality="RED", limit="TIER_50")
    wait_for(
        lambda: any(
            title.startswith("Critical: Quality dropped or low: Quality Cafe") for title in inbox_titles(sandbox)
        ),
        timeout=60,
    )

    secrets = json.loads((stack.data_dir / "demo-secrets.json").read_text())
    api = PartnerApi(f"{stack.sandbox_url}/api/v2", "demoPA", api_key=secrets["partner_api_key"], timeout=10)
    try:
        with console_db(stack.data_dir / "console.db") as db:
            store_redirect_query(db, sandbox.revoke(dropped_id), api, actor=demo_person())
    finally:
        api.close()

    stuck_id = stuck["channel_ids"][0]
    with console_db(stack.data_dir / "console.db") as db:
        # As the console keeps it: the number its webhooks gave (digits, until a sync spells it out)...
        [(stuck_number,)] = db.execute("select phone_number from channels where id = ?", [stuck_id]).fetchall()
    # ... and as it names it: as people write it.
    stuck_named = f"Stuck Studio, {spelled_out(stuck_number)}"
    wanted = {
        "Critical: Permission revoked: Quality Cafe, +49 151 5550002",
        "Critical: Quality dropped or low: Quality Cafe, +49 151 5550002",
    }

    def told_stuck() -> list[dict]:
        # On its own ("Stuck in onboarding: ..."), or in one message with another number stuck in the same
        # round ("2 numbers stuck in onboarding: ..."), as Quality Cafe may be while it onboards.
        return [
            message
            for message in sandbox.inbox(limit=100)
            if "tuck in onboarding: " in message["title"]
            and not message["title"].startswith("Resolved")
            and stuck_named in message["title"]
        ]

    wait_for(lambda: wanted <= set(inbox_titles(sandbox)) and told_stuck(), timeout=60)
    [stuck_message] = told_stuck()
    assert f"{stack.public_url}/channels?open={stuck_id}" in stuck_message["message"]
    # Each story once, however many rounds ran.
    titles = inbox_titles(sandbox)
    assert all(titles.count(title) == 1 for title in wanted)
    assert len(told_stuck()) == 1

    page.goto(f"{stack.public_url}/alerts")
    expect(page.get_by_role("heading", name="Demo inbox")).to_be_visible()
    expect(page.get_by_text("Critical: Permission revoked: Quality Cafe, +49 151 5550002").first).to_be_visible()


CAP = 3


@pytest.fixture(scope="module")
def capped_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("alerts-capped"),
        {
            "CONSOLE_ALERT_CHECK_SECONDS": "1",
            "CONSOLE_ALERT_STUCK_MINUTES": "0.05",
            "CONSOLE_ALERT_MAX_PER_HOUR": str(CAP),
        },
    )
    yield running
    assert running.stop() == 0, running.log_path.read_text()


def _capped_messages(stack: RunningStack) -> int:
    with console_db(stack.data_dir / "console.db") as db:
        return db.execute("select count(*) from alert_messages where kind != 'test'").fetchone()[0]


def _held_alerts(stack: RunningStack) -> int:
    with console_db(stack.data_dir / "console.db") as db:
        return db.execute("select count(*) from alerts where state = 'firing' and fired_message_id is null").fetchone()[
            0
        ]


def test_a_burst_then_a_red_number_the_red_alert_arrives_at_the_sink_at_once(capped_stack: RunningStack, page) -> None:
    stack = capped_stack
    secrets = json.loads((stack.data_dir / "demo-secrets.json").read_text())
    sandbox = SandboxClient(stack.sandbox_url, secrets["partner_api_key"])
    try:
        # A burst of numbers stuck in onboarding, one after another, until the hour's cap is spent...
        for number in range(1, CAP + 1):
            sandbox.onboard(f"Burst {number}", [f"+49 151 60000{number:02d}"], never_running=True)
            wait_for(lambda wanted=number: _capped_messages(stack) >= wanted, timeout=60)
        assert _capped_messages(stack) == CAP
        # ...and more of them, which the cap now holds.
        for number in range(CAP + 1, CAP + 6):
            sandbox.onboard(f"Burst {number}", [f"+49 151 60000{number:02d}"], never_running=True)
        wait_for(lambda: _held_alerts(stack) >= 5, timeout=60)

        red = sandbox.onboard("Red Bistro", ["+49 151 7770001"])
        [red_id] = red["channel_ids"]
        wait_until_running(stack, red_id)
        sandbox.change_quality(red_id, quality="RED", limit="TIER_250")
        title = "Critical: Quality dropped or low: Red Bistro, +49 151 7770001"
        # At once: the webhook, the next round (every second) and one send, on two shared cores.
        wait_for(lambda: title in inbox_titles(sandbox), timeout=30)
        [message] = [message for message in sandbox.inbox(limit=100) if message["title"] == title]
        assert "Severity: critical" in message["message"]
        assert re.search(r"What happened: quality (is RED|fell from \w+ to RED)", message["message"])
        # The burst is still held: the RED alert did not wait for it.
        assert _held_alerts(stack) >= 5
    finally:
        sandbox.close()

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{stack.public_url}/alerts")
    expect(page.get_by_role("heading", name="Firing now")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"\d+ warning alerts held by the hourly cap until \d\d:\d\d UTC"))
    ).to_be_visible()
    expect(page.get_by_text(title).first).to_be_visible()
    screenshot(page, "alerts-burst-then-red-1280")
    page.set_viewport_size({"width": 800, "height": 700})
    expect(page.get_by_text(re.compile(r"warning alerts held by the hourly cap until"))).to_be_visible()
    screenshot(page, "alerts-burst-then-red-800")
    # The RED alert comes first in the list to act on: acknowledged from the page, the answer next to the button.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Acknowledge").click()
    answer = page.get_by_text(re.compile(r"Acknowledged alert #\d+: the team sees you are on it\."))
    expect(answer).to_be_visible()
    answer.scroll_into_view_if_needed()
    screenshot(page, "alerts-acknowledged-1280")
    with console_db(stack.data_dir / "console.db") as db:
        assert db.execute(
            "select acked_by from alerts where channel_id = ? and state = 'firing'", [red_id]
        ).fetchall() == [("demo",)]
        assert db.execute("select action from audit where action = 'acknowledge_alert'").fetchall() == [
            ("acknowledge_alert",)
        ]
