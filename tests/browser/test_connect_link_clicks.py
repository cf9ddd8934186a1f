"""A handed-out link in a real browser: each visit of the console link lands on the sandbox hub's page with a
signature made for that visit, so a first attempt left open does not kill the link (360dialog starts IO once
per signature)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from services.sandbox.signing import io_signature_valid
from tests.support.connect import hand_out_a_link
from tests.support.screens import screenshot
from tests.support.stack import RunningStack


def platform_secret(stack: RunningStack) -> str:
    return json.loads((stack.data_dir / "demo-secrets.json").read_text())["platform_secret"]


def visit(browser, href: str, stack: RunningStack) -> tuple[str, str]:
    """Open the handed-out link in a fresh browser, as a client does; the hub page's address and signature."""
    context = browser.new_context(viewport={"width": 800, "height": 900})
    client = context.new_page()
    client.goto(href)
    expect(client.locator("#business_name")).to_be_visible()
    url = client.url
    assert url.startswith(f"{stack.sandbox_url}/dashboard/app/demoPA/permissions?")
    query = parse_qs(urlsplit(url).query)
    assert io_signature_valid(
        "demoPA", int(query["io_timestamp"][0]), query["io_signature"][0], platform_secret(stack), "hex"
    )
    context.close()
    return url, query["io_signature"][0]


def test_the_handed_out_link_is_signed_afresh_at_each_visit(stack: RunningStack, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{stack.public_url}/connect")
    href = hand_out_a_link(page)
    assert re.fullmatch(rf"{re.escape(stack.public_url)}/connect/[A-Za-z0-9_-]{{22}}", href)

    # The first visit starts IO and is abandoned; the second gets a new signature and a working page.
    first_url, first_signature = visit(browser, href, stack)
    _, second_signature = visit(browser, href, stack)
    assert second_signature != first_signature
    context_again = browser.new_context()
    stale = context_again.new_page()
    stale.goto(first_url)
    expect(stale.get_by_text("Link not accepted")).to_be_visible()
    context_again.close()

    expect(page.get_by_text(re.compile(r"clicked 2 time\(s\)"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text("signed afresh at each click")).to_be_visible()
    page.mouse.move(0, 0)
    screenshot(page, "connect-console-link")
    page.set_viewport_size({"width": 800, "height": 800})
    expect(page.get_by_role("link", name="Open onboarding")).to_be_visible()
    screenshot(page, "connect-console-link-800")
    context.close()
