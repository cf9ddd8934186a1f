"""The Clients page on the realistic scenario: every client with its numbers, a search by a number's digits, a
client opened by its link with its numbers, redirects and timeline, and a number opening its channel; read at
1280x800 and at 800 px wide."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_demo_controls import load_the_scenario, open_demo, query
from tests.support.screens import screenshot
from tests.support.stack import RunningStack


def test_clients_with_their_numbers_and_one_client_in_its_own_view(stack: RunningStack, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    open_demo(page, stack)
    load_the_scenario(page, stack)

    page.goto(f"{stack.public_url}/clients")
    expect(page.get_by_role("heading", name="Clients")).to_be_visible()
    expect(page.get_by_text("40 clients")).to_be_visible()
    page.mouse.move(0, 0)
    screenshot(page, "clients")

    # The biggest client, found by one of its numbers written without spaces: the one its view lists first (the
    # view lists the 20 numbers changed last, so a number picked by id may not be among them).
    client_id, name = query(
        stack,
        "select clients.id, clients.name from clients join channels on channels.client_id = clients.id "
        "group by clients.id order by count(*) desc, clients.id limit 1",
    )[0]
    (number,) = query(
        stack,
        "select phone_number from channels where client_id = ? order by updated_at desc, id desc limit 1",
        (client_id,),
    )[0]
    page.get_by_role("textbox", name="Search").fill(number.replace(" ", ""))
    page.get_by_role("textbox", name="Search").press("Enter")
    expect(page.get_by_text("1 client", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/clients\?clients_q="))

    # Its own view, as its link opens it: numbers, redirects, one timeline.
    page.goto(f"{stack.public_url}/clients?open={client_id}")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"{name} ({client_id})")).to_be_visible()
    channel_link = dialog.get_by_role("link", name=re.compile(re.escape(number)))
    expect(channel_link).to_be_visible()
    page.mouse.move(0, 0)
    screenshot(page, "clients-open")
    page.set_viewport_size({"width": 800, "height": 800})
    expect(channel_link).to_be_visible()
    screenshot(page, "clients-open-800")
    dialog.get_by_role("tab", name=re.compile(r"^Redirects \(1\)")).click()
    expect(dialog.locator("[role=gridcell]", has_text="applied").first).to_be_attached()
    screenshot(page, "clients-open-redirects-800")
    page.set_viewport_size({"width": 1280, "height": 800})
    dialog.get_by_role("tab", name="Timeline").click()
    expect(dialog.locator("[role=gridcell]", has_text="webhook").first).to_be_attached()
    screenshot(page, "clients-open-timeline")
    dialog.get_by_role("tab", name=re.compile(r"^Numbers")).click()

    # A number opens its channel's own view.
    channel_link.click()
    page.wait_for_url(re.compile(r"/channels\?open=\w+CH"))
    expect(page.get_by_role("dialog").get_by_text(number).first).to_be_visible()
    context.close()
