"""What the client's browser is told when it comes back, on the real stack: a cancel says "cancelled", an empty
grant through the sandbox hub says no number was shared, and neither shows the operator's view, which is one
button away in demo mode. Then the Connect page's history: a link reopened, copied and closed."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import expect

from tests.support.connect import hand_out_a_link
from tests.support.screens import screenshot
from tests.support.stack import RunningStack

WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 800, "height": 700}
# The sandbox hub cannot play a cancel, so the client comes back as a cancel in Meta's OAuth convention does.
CANCEL = "error=access_denied&error_reason=user_denied&error_description=Permissions%20error"


def query(stack: RunningStack, sql: str) -> list[tuple]:
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        return db.execute(sql).fetchall()


def newest_state(stack: RunningStack) -> str:
    return query(stack, "select state from io_links order by created_at desc limit 1")[0][0]


def expect_no_operator_view(page) -> None:
    for internal in ("Onboarding result", "Channels granted", "held for review", "This redirect cannot be used"):
        expect(page.get_by_text(internal)).to_have_count(0)
    expect(page.locator("[role=gridcell]")).to_have_count(0)


def test_a_cancelled_onboarding_tells_the_client_cancelled(stack: RunningStack, browser) -> None:
    # The old behaviour: "Onboarding complete ... on its way", and in demo mode the operator's view at once.
    operator = browser.new_context(viewport=WIDE).new_page()
    operator.goto(f"{stack.public_url}/connect")
    hand_out_a_link(operator)
    state = newest_state(stack)
    for viewport, name in ((WIDE, "client-landing-cancelled-1280"), (NARROW, "client-landing-cancelled-800")):
        client = browser.new_context(viewport=viewport).new_page()
        client.goto(f"{stack.public_url}/landing?{CANCEL}&state={state}")
        expect(client.get_by_role("heading", name="Onboarding cancelled")).to_be_visible()
        expect(client.get_by_text("cancelled before it finished")).to_be_visible()
        expect(client).to_have_url(re.compile(r"/landing$"))
        expect_no_operator_view(client)
        screenshot(client, name)
        if viewport is NARROW:
            # Demo mode: the operator's view is one button away, and says what the client was shown.
            client.get_by_role("button", name="Operator view").click()
            expect(client.get_by_role("heading", name="Onboarding result")).to_be_visible()
            expect(client.get_by_text("The client's page said: Onboarding cancelled.")).to_be_visible()
            expect(client.get_by_text("This redirect cannot be used.")).to_be_visible()
        client.context.close()
    # Stored once, as it came, refused with the reason; the link it named is still open for another try.
    rows = query(stack, "select verdict, error from redirects where raw_query like 'error=access_denied%'")
    assert rows == [("refused", "the client did not finish onboarding: 360dialog sent error='access_denied'")]
    assert query(stack, f"select used_at from io_links where state = '{state}'") == [(None,)]
    operator.context.close()


def test_an_onboarding_that_shares_no_number_says_so(stack: RunningStack, browser) -> None:
    operator = browser.new_context(viewport=WIDE).new_page()
    operator.goto(f"{stack.public_url}/connect")
    href = hand_out_a_link(operator)
    operator.context.close()
    client = browser.new_context(viewport=NARROW).new_page()
    client.goto(href)
    client.fill("#business_name", "No Grant Bakery")
    client.fill("#numbers", "+49 151 0000061")
    client.uncheck("#grant")  # without the grant the hub sends the client back with an empty list
    client.click("#submit")
    client.wait_for_url(re.compile(r"/landing"))
    expect(client.get_by_role("heading", name="No number was shared")).to_be_visible()
    expect_no_operator_view(client)
    screenshot(client, "client-landing-nothing-shared-800")
    client.context.close()


def test_a_link_is_reopened_copied_and_closed_from_the_history(stack: RunningStack, browser) -> None:
    operator = browser.new_context(viewport=WIDE).new_page()
    operator.goto(f"{stack.public_url}/connect")
    href = hand_out_a_link(operator)
    # Another visit to the page: no link on it until one is reopened from the history.
    operator.goto(f"{stack.public_url}/connect")
    expect(operator.get_by_role("heading", name="Links handed out")).to_be_visible()
    expect(operator.get_by_role("link", name="Open onboarding")).to_have_count(0)
    state = newest_state(stack)
    operator.get_by_role("combobox", name="A link handed out").click()
    operator.get_by_role("option", name=re.compile(re.escape(f"state {state[:8]}"))).click()
    operator.get_by_role("button", name="Reopen").click()
    expect(operator.get_by_role("link", name="Open onboarding")).to_have_attribute("href", href)
    expect(operator.locator("code", has_text=href).first).to_be_visible()
    operator.get_by_role("button", name="Close this link").click()
    expect(operator.get_by_text("This link is closed")).to_be_visible()
    expect(operator.locator("[role=gridcell]", has_text="closed").first).to_be_attached()
    operator.get_by_role("heading", name="Links handed out").scroll_into_view_if_needed()
    screenshot(operator, "connect-link-history-1280")
    operator.set_viewport_size(NARROW)
    operator.get_by_role("heading", name="Links handed out").scroll_into_view_if_needed()
    screenshot(operator, "connect-link-history-800")
    # The client's click on the closed link gets the neutral page.
    client = browser.new_context(viewport=NARROW).new_page()
    client.goto(href)
    expect(client.get_by_role("heading", name="This link is no longer valid")).to_be_visible()
    client.context.close()
    operator.context.close()
