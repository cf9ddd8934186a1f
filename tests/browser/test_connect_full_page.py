"""The full-page path: the IO link opened as a page, the redirect lands, is stored once and shown;
crafted redirects (encoded lists, revocations, markup in ids) are handled on the real stack."""

from __future__ import annotations

import json
import re
import sqlite3

from playwright.sync_api import expect

from tests.support.connect import hand_out_a_link
from tests.support.stack import RunningStack


def redirects(stack: RunningStack) -> list[tuple]:
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        return db.execute("select id, raw_query, client_id, channels, state_match, error from redirects").fetchall()


def test_full_page_onboarding_lands_once_and_clears_the_query(stack: RunningStack, page) -> None:
    page.goto(f"{stack.public_url}/connect")
    href = hand_out_a_link(page)
    link = page.get_by_role("link", name="Open onboarding")
    before = len(redirects(stack))

    # "Open onboarding" opens a new tab that does not hold the Connect page as its opener.
    with page.expect_popup() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    # The console link sends the tab on to the hub with a signature made for this visit.
    assert tab.url.startswith(f"{stack.sandbox_url}/dashboard/app/demoPA/permissions?")
    assert "io_signature=" in tab.url
    assert tab.evaluate("window.opener === null")
    tab.close()

    page.goto(href)
    page.fill("#business_name", "Full Page Bakery")
    page.fill("#numbers", "+49 151 0000021\n+49 151 0000022")
    page.check("#grant")
    page.click("#submit")

    page.wait_for_url(re.compile(r"/landing"))
    # The client's page first, then the operator's view one button away.
    expect(page.get_by_role("heading", name="Onboarding complete")).to_be_visible()
    page.get_by_role("button", name="Operator view").click()
    expect(page.get_by_text("Onboarding finished")).to_be_visible()
    # The query string is cleared once the redirect is stored.
    expect(page).to_have_url(re.compile(r"/landing$"))
    rows = redirects(stack)
    assert len(rows) == before + 1
    _, raw_query, client_id, channels, state_match, error = rows[-1]
    assert state_match == "matched"
    assert error is None
    assert len(json.loads(channels)) == 2
    assert raw_query.startswith(f"client={client_id}&channels=[")
    expect(page.get_by_text(client_id, exact=True)).to_be_visible()
    next_steps = page.locator("[role=gridcell]", has_text=re.compile(r"waiting for running|key can be generated"))
    expect(next_steps.first).to_be_attached()
    # Not a popup: nothing says the window closes itself, and it stays open.
    expect(page.get_by_text("this window closes itself")).to_have_count(0)

    # A reload of the same redirect (say, before the query was cleared) makes no second record.
    page.goto(f"{stack.public_url}/landing?{raw_query}")
    page.get_by_role("button", name="Operator view").click()
    expect(page.get_by_text("Onboarding finished")).to_be_visible()
    assert len(redirects(stack)) == before + 1

    # The Connect page's history shows what became of the link.
    page.goto(f"{stack.public_url}/connect")
    expect(page.locator("[role=gridcell]", has_text="redirected").first).to_be_attached(timeout=30_000)


def test_a_crafted_redirect_is_held_and_changes_nothing(stack: RunningStack, page) -> None:
    # The old behaviour: any crafted revocation marked channels revoked and made rows for ids nobody confirmed.
    page.goto(f"{stack.public_url}/landing?client=craftCL&channels=%5B%5D&revoked=%5BgoneCH%2C%20lostCH%5D")
    expect(page.get_by_role("heading", name="No number was shared")).to_be_visible()
    page.get_by_role("button", name="Operator view").click()
    expect(page.get_by_text("held for review: nothing was changed")).to_be_visible()
    expect(page.get_by_role("link", name="Review it on the Redirects page")).to_be_visible()
    row = next(r for r in redirects(stack) if r[2] == "craftCL")
    assert row[3] == "[]"
    with sqlite3.connect(stack.data_dir / "console.db") as db:
        touched = db.execute("select id from channels where id in ('goneCH', 'lostCH')").fetchall()
        verdict = db.execute("select verdict from redirects where client_id = 'craftCL'").fetchone()
    assert touched == []
    assert verdict == ("held",)


def test_markup_in_a_redirect_is_shown_as_text_never_run(stack: RunningStack, page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{stack.public_url}/landing?client=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&channels=%5B%5D")
    expect(page.get_by_role("heading", name="We could not read this link")).to_be_visible()
    page.get_by_role("button", name="Operator view").click()
    expect(page.get_by_text("This redirect cannot be used.")).to_be_visible()
    expect(page.locator("code", has_text="<img src=x onerror=alert(1)>").first).to_be_visible()
    expect(page.locator("img[src=x]")).to_have_count(0)
    assert dialogs == []
    assert any(r[5] and "client holds an id" in r[5] for r in redirects(stack))
