"""What a stranger's link or web page can send, in a real browser against the real stack in demo mode: a search
with a NUL in the Events page's URL is searched (the live refresh logs nothing), and a page of another origin
cannot post an alert into the sandbox hub's demo inbox."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from services.demo.hub_client import SandboxClient
from tests.support.stack import RunningStack


@pytest.fixture
def sandbox(stack: RunningStack) -> Iterator[SandboxClient]:
    secrets = json.loads((stack.data_dir / "demo-secrets.json").read_text())
    client = SandboxClient(stack.sandbox_url, secrets["partner_api_key"])
    yield client
    client.close()


def test_a_nul_in_the_events_search_is_searched_and_the_live_refresh_logs_nothing(stack: RunningStack, page) -> None:
    page.goto(f"{stack.public_url}/events?events_q=a%00b&events_range=All+time")
    expect(page.get_by_text("0 matching events")).to_be_visible()
    time.sleep(5)  # two live refreshes
    expect(page.get_by_text("0 matching events")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert "Traceback" not in stack.log_path.read_text()


FORGE = """async ([url, body]) => {
    const outcomes = [];
    // A simple request: no preflight, the answer opaque to the page; the hub must refuse it by itself.
    for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
        await fetch(url, {method: "POST", mode: "no-cors", headers: {"Content-Type": type}, body});
        outcomes.push(type + " sent");
    }
    // JSON needs a preflight, which the hub never grants.
    try {
        await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body});
        outcomes.push("json answered");
    } catch (error) {
        outcomes.push("json refused by the browser");
    }
    return outcomes;
}"""


def test_a_page_of_another_origin_cannot_post_into_the_demo_inbox(
    stack: RunningStack, sandbox: SandboxClient, page
) -> None:
    before = sandbox.inbox(limit=100)
    page.goto(f"{stack.receiver_url}/healthz")  # another origin on this machine
    body = json.dumps({"title": "Permission revoked: fake", "message": "forged", "type": "warning"})
    outcomes = page.evaluate(FORGE, [f"{stack.sandbox_url}/sandbox/inbox", body])
    assert outcomes == [
        "text/plain sent",
        "application/x-www-form-urlencoded sent",
        "json refused by the browser",
    ]
    assert sandbox.inbox(limit=100) == before
