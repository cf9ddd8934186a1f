"""The Events page's filters and open event live in the URL: a reload keeps them, a pasted link shows the same."""

from __future__ import annotations

import json
import re

import requests
from playwright.sync_api import expect

from services.events.signature import SIGNATURE_HEADER, sign_body
from tests.support.stack import RunningStack


def _send(stack: RunningStack, event_id: str, event: str, data: dict) -> None:
    secret = json.loads((stack.data_dir / "demo-secrets.json").read_text())["platform_secret"]
    body = json.dumps({"id": event_id, "event": event, "data": data}).encode()
    response = requests.post(
        f"{stack.receiver_url}/webhooks/360dialog",
        data=body,
        headers={"content-type": "application/json", SIGNATURE_HEADER: sign_body(body, secret)},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_filters_and_the_open_event_survive_a_reload_and_a_pasted_link(stack: RunningStack, browser) -> None:
    _send(stack, "link-1", "account_violation", {"phone_number": "+31 6 3439217", "violation_type": "SCAM"})
    _send(stack, "link-2", "channel_created", {"id": "linkCH", "client_id": "linkCL"})
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{stack.public_url}/events")
    page.get_by_text("Live", exact=True).click()  # paused: the rows stay put
    search = page.get_by_role("textbox", name="Search", exact=True)
    search.fill("3163439217")
    search.press("Enter")
    _choose(page, "Time range", "Last 7 days")
    _choose(page, "Event type", "account_violation")
    expect(page).to_have_url(re.compile(r"events_q=3163439217"))
    expect(page).to_have_url(re.compile(r"events_range=Last\+7\+days|events_range=Last%207%20days"))
    expect(page).to_have_url(re.compile(r"type=account_violation"))
    expect(page.get_by_text("1 matching events")).to_be_visible()

    # Select the one row: the event opens, and its id joins the URL.
    grid = page.get_by_test_id("stDataFrame").first
    expect(page.locator("[role=gridcell]", has_text="account_violation").first).to_be_attached()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    expect(page.get_by_role("tab", name="Request headers")).to_be_visible()
    expect(page).to_have_url(re.compile(r"open=\d+"))
    link = page.url

    page.reload()
    expect(page.get_by_role("textbox", name="Search", exact=True)).to_have_value("3163439217")
    expect(page.get_by_role("tab", name="Request headers")).to_be_visible()
    expect(page.get_by_text("1 matching events")).to_be_visible()

    colleague = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    colleague.goto(link)
    expect(colleague.get_by_role("textbox", name="Search", exact=True)).to_have_value("3163439217")
    expect(colleague.get_by_role("combobox", name="Event type")).to_have_value("account_violation")
    expect(colleague.get_by_role("tab", name="Raw body")).to_be_visible()
    colleague.get_by_role("tab", name="Raw body").click()
    expect(colleague.get_by_text("+31 6 3439217").locator("visible=true").first).to_be_visible()
    colleague.context.close()
    page.context.close()
