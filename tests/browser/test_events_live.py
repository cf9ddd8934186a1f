"""The Events page in a real browser: a webhook shows up without a reload; the pause switch holds the view."""

from __future__ import annotations

import json
import time

import requests
from playwright.sync_api import expect

from services.events.signature import SIGNATURE_HEADER, sign_body
from tests.support.stack import RunningStack


def _send(stack: RunningStack, name: str) -> None:
    secret = json.loads((stack.data_dir / "demo-secrets.json").read_text())["platform_secret"]
    body = json.dumps({"id": f"id-{name}", "event": name, "data": {"id": "liveCH", "client_id": "liveCL"}}).encode()
    response = requests.post(
        f"{stack.receiver_url}/webhooks/360dialog",
        data=body,
        headers={"content-type": "application/json", SIGNATURE_HEADER: sign_body(body, secret)},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _cell(page, text: str):
    return page.locator("[role=gridcell]", has_text=text)


def test_events_arrive_live_and_pause_holds(stack: RunningStack, page) -> None:
    _send(stack, "live_check_first")
    page.goto(f"{stack.public_url}/events")
    expect(_cell(page, "live_check_first").first).to_be_attached(timeout=30_000)

    # No reload: the live fragment picks the next webhook up by itself.
    _send(stack, "live_check_second")
    expect(_cell(page, "live_check_second").first).to_be_attached(timeout=15_000)

    # Paused: a new webhook stays out of view until the switch is on again.
    page.get_by_text("Live", exact=True).click()
    time.sleep(1)
    _send(stack, "live_check_third")
    time.sleep(5)
    expect(_cell(page, "live_check_third")).to_have_count(0)
    page.get_by_text("Live", exact=True).click()
    expect(_cell(page, "live_check_third").first).to_be_attached(timeout=15_000)


def test_selecting_a_row_opens_its_payload(stack: RunningStack, page) -> None:
    _send(stack, "open_me_event")
    page.goto(f"{stack.public_url}/events")
    page.get_by_text("Live", exact=True).click()  # paused, so the row stays put while we click it
    cell = _cell(page, "open_me_event").first
    expect(cell).to_be_attached(timeout=30_000)
    # The grid is drawn on a canvas: click the first row's selection box, left of the first data row.
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    expect(page.get_by_role("tab", name="Request headers")).to_be_visible(timeout=15_000)
    page.get_by_role("tab", name="Raw body").click()
    expect(page.get_by_text('"event": "open_me_event"').first).to_be_visible()
