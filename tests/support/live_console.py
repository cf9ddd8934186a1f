"""A live-mode console aimed at the sandbox hub, as the browser tests run it: its settings, its team, a sign-in."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.console import add_team, live_env
from tests.support.sandbox_hub import Hub


def live_env_against(hub: Hub, data_dir: Path, password: str, **extra: str) -> dict[str, str]:
    """Complete live settings in which the hub stands in for 360dialog (its partner, keys, Partner API and IO
    pages), with the password accounts of add_team made in `data_dir`; `extra` adds or overrides."""
    add_team(data_dir, password)
    return {
        **live_env(data_dir, password),
        "D360_PARTNER_ID": hub.settings.partner_id,
        "D360_PARTNER_API_KEY": hub.settings.partner_api_key,
        "D360_PLATFORM_SECRET": hub.settings.platform_secret,
        "D360_API_BASE_URL": hub.settings.api_base_url,
        "D360_HUB_ENV": "sandbox",
        "SANDBOX_URL": hub.url,
        "D360_IO_SIGNATURE": "true",
        "CONSOLE_BIND_ADDRESS": "127.0.0.1",
        # The client's redirect waits for the scheduler's word on its new channel: ask every second.
        "CONSOLE_REDIRECT_CHECK_SECONDS": "1",
        **extra,
    }


def sign_in(page: Page, url: str, password: str, name: str = "dora") -> None:
    """Sign in with one of add_team's password accounts, as a person would."""
    page.goto(url)
    page.get_by_label("Account").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text(f"Signed in as {name}")).to_be_visible()
