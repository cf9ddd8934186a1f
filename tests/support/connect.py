"""The Connect page in a real browser: a link is made only when asked for."""

from __future__ import annotations

from playwright.sync_api import expect


def hand_out_a_link(page) -> str:
    """On the Connect page (open in `page`), press "New link" and return the new link's address."""
    page.get_by_role("button", name="New link").click()
    link = page.get_by_role("link", name="Open onboarding")
    expect(link).to_be_visible()
    return link.get_attribute("href")
