"""One search on Events, Channels and Clients in a real browser against the real stack: a number typed with 00
and a name typed without its accents find the number on each page; moving to another page through the sidebar
carries no page's search in its URL; a work-queue row opens its channel whatever the search. Screenshots of a
search's result at 1280x800 and 800 px wide."""

from __future__ import annotations

import json
import re

import requests
from playwright.sync_api import expect

from services.events.signature import SIGNATURE_HEADER, sign_body
from tests.browser.test_demo_controls import query
from tests.support.navigation import open_navigation
from tests.support.screens import screenshot
from tests.support.servers import wait_for
from tests.support.stack import RunningStack

NUMBER_WITH_00 = "0034 600-111-222"
SEARCH_KEYS = ("events_q", "channels_q", "clients_q", "q")


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


def _seed(stack: RunningStack) -> None:
    """Café Olé's number and three of its events (two name the channel by its id alone), and another client's."""
    ole = {"id": "oleCH", "client_id": "oleCL", "client": {"id": "oleCL", "name": "Café Olé"}}
    _send(stack, "se-1", "channel_created", {**ole, "setup_info": {"phone_number": "+34 600 111 222"}})
    _send(stack, "se-2", "channel_submitted", {"id": "oleCH"})
    _send(stack, "se-3", "channel_running", {"id": "oleCH"})
    tapas = {"id": "tapasCH", "client_id": "tapasCL", "client": {"id": "tapasCL", "name": "Bar Tapas"}}
    _send(stack, "se-4", "channel_created", {**tapas, "setup_info": {"phone_number": "+31 6 3439217"}})
    wait_for(lambda: query(stack, "select count(*) from events where dedupe_key like '%se-%'")[0][0] >= 4, timeout=60)
    wait_for(lambda: query(stack, "select count(*) from channels where id in ('oleCH', 'tapasCH')")[0][0] == 2)


def _search(page, typed: str) -> None:
    box = page.get_by_role("textbox", name=re.compile(r"^Search"))
    box.fill(typed)
    box.press("Enter")


def _searches_in_url(page) -> list[str]:
    return [key for key in SEARCH_KEYS if re.search(rf"[?&]{key}=", page.url)]


def test_one_search_everywhere_and_none_carried_to_another_page(stack: RunningStack, browser) -> None:
    _seed(stack)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)

    for typed in (NUMBER_WITH_00, "Cafe"):
        page.goto(f"{stack.public_url}/events")
        page.get_by_text("Live", exact=True).click()  # paused: the rows stay put
        _search(page, typed)
        expect(page.get_by_text("3 matching events")).to_be_visible()

        page.goto(f"{stack.public_url}/channels")
        _search(page, typed)
        expect(page.get_by_text("1 channel", exact=True)).to_be_visible()
        expect(page.locator("[role=gridcell]", has_text="oleCH").first).to_be_attached()

        page.goto(f"{stack.public_url}/clients")
        _search(page, typed)
        expect(page.get_by_text("1 client", exact=True)).to_be_visible()
        expect(page.locator("[role=gridcell]", has_text="Café Olé").first).to_be_attached()

    # One search's result, read at both widths.
    page.goto(f"{stack.public_url}/clients")
    _search(page, NUMBER_WITH_00)
    expect(page.get_by_text("1 client", exact=True)).to_be_visible()
    page.mouse.move(0, 0)
    screenshot(page, "search-clients-1280")
    page.set_viewport_size({"width": 800, "height": 800})
    expect(page.get_by_text("1 client", exact=True)).to_be_visible()
    screenshot(page, "search-clients-800")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Through the sidebar, each page opens with its own filters empty and no other page's in its URL.
    page.goto(f"{stack.public_url}/events")
    _search(page, "Cafe")
    expect(page).to_have_url(re.compile(r"events_q=Cafe"))
    for title, path in (("Channels and keys", "channels"), ("Clients", "clients"), ("Events", "events")):
        open_navigation(page)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        page.wait_for_url(re.compile(rf"/{path}(\?|$)"))
        expect(page.get_by_role("heading", name=title)).to_be_visible()
        if path != "events":
            expect(page.get_by_role("textbox", name=re.compile(r"^Search"))).to_have_value("")
            assert _searches_in_url(page) == [], page.url
        _search(page, "Tapas")

    # A work-queue row opens its channel, whatever the list's search hides.
    page.goto(f"{stack.public_url}/channels")
    _search(page, "Tapas")
    expect(page.get_by_text("1 channel", exact=True)).to_be_visible()
    expect(page.get_by_text("Needs attention (1)")).to_be_visible()
    expect(page.locator("[role=gridcell]", has_text="+34 600 111 222").first).to_be_attached()
    box = page.get_by_test_id("stDataFrame").first.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box, below the header
    page.wait_for_url(re.compile(r"open=oleCH"))
    expect(page.get_by_role("dialog").get_by_text("+34 600 111 222").first).to_be_visible()
    context.close()
