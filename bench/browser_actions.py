"""What an operator does in the console, timed in Chromium from the click (or the navigation) to settled: the
expected element visible and Streamlit done (the app says its script is not running, and the status widget is
gone).

Each action gets a page in the state it starts from, untimed, then times one step. The actions read what they
look for from the console's database (a channel, a client, the word only the oldest event holds), so the same
actions run on the demo's data and on the seeded data.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from services.demo.hub_client import SandboxClient
from services.read_models.clients import count_clients
from services.store import open_console_db

VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 60_000
VISIBLE_POLL_SECONDS = 0.01
# Streamlit's own marks: the app's script state, and the "Running..." widget shown while a script runs.
SETTLED_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-testid="stStatusWidget"]') === null;
}"""
# Each page in the sidebar, by its link's name, with the title it shows (the landing, opened without a
# redirect, shows the client's page for a link it cannot read).
SIDEBAR_PAGES = (
    ("Today", "Today"),
    ("Connect", "Connect a WhatsApp number"),
    ("Redirect landing", re.compile(r"^(We could not read this link|Onboarding result)$")),
    ("Redirects", "Redirects"),
    ("Events", "Events"),
    ("Channels and keys", "Channels and keys"),
    ("Clients", "Clients"),
    ("Receiver health", "Receiver health"),
    ("Audit", "Audit"),
    ("Alerts", "Alerts"),
    ("Demo controls", "Demo controls"),
)
RUNNING_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Console:
    """A running demo stack as the actions see it."""

    url: str
    db_path: Path
    sandbox: SandboxClient

    def one(self, sql: str, params: tuple = ()) -> Any:
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as db:
            row = db.execute(sql, params).fetchone()
        return row[0] if row else None


def wait_until(condition: Callable[[], bool], seconds: float, failure: str, *, every: float = 0.2) -> None:
    """Ask `condition` every `every` seconds until it holds; raises RuntimeError(failure) after `seconds`."""
    waiting = Retrying(
        retry=retry_if_result(lambda held: not held), stop=stop_after_delay(seconds), wait=wait_fixed(every)
    )
    try:
        waiting(condition)
    except RetryError:
        raise RuntimeError(failure) from None


def settle(page: Page) -> None:
    page.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS)


def open_settled(page: Page, url: str, visible: Callable[[Page], Any]) -> None:
    page.goto(url)
    expect(visible(page)).to_be_visible(timeout=TIMEOUT_MS)
    settle(page)


def timed(step: Callable[[], None], page: Page, visible: Callable[[Page], Any]) -> float:
    """Seconds from `step` (a click, a key press, a navigation) to `visible` shown and the app settled.

    Asked every VISIBLE_POLL_SECONDS rather than with Playwright's `expect`, which asks again after 0, 20, 50,
    100 and 100 ms and then only every 500 ms: what showed at 0.5 s was counted at about 0.9 s."""
    target = visible(page)
    started = time.perf_counter()
    step()
    wait_until(target.is_visible, TIMEOUT_MS / 1000, f"not shown: {target}", every=VISIBLE_POLL_SECONDS)
    settle(page)
    return time.perf_counter() - started


def _title(text: str | re.Pattern[str]) -> Callable[[Page], Any]:
    return lambda page: page.get_by_test_id("stMain").get_by_role("heading", name=text, level=1)


def sidebar_pages(page: Page, console: Console) -> dict[str, float]:
    """Each page's first paint, reached through its sidebar link from the page before."""
    open_settled(page, console.url, _title("Today"))
    times = {}
    # From the last page round to the first, so that Today too is reached through its link.
    for name, title in (*SIDEBAR_PAGES[1:], SIDEBAR_PAGES[0]):
        link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
        times[f"page: {name}"] = timed(link.click, page, _title(title))
    return times


def _grid(page: Page, index: int = 0) -> Any:
    return page.locator("[data-testid=stDataFrame]").nth(index)


def channel_from_queue(page: Page, console: Console) -> float:
    open_settled(
        page, f"{console.url}/channels", lambda p: p.get_by_role("heading", name=re.compile(r"^Needs attention"))
    )
    grid = _grid(page)
    expect(grid.locator("[role=gridcell]").first).to_be_attached(timeout=TIMEOUT_MS)
    box = grid.bounding_box()
    # The grid draws on a canvas: its first row's selection box, left of the first column.
    return timed(
        lambda: page.mouse.click(box["x"] + 18, box["y"] + 35 * 1.5),
        page,
        lambda p: p.get_by_role("dialog").get_by_text("Timeline"),
    )


def channel_by_link(page: Page, console: Console) -> float:
    channel_id = console.one("select id from channels where status = 'running' order by id limit 1")
    open_settled(page, console.url, _title("Today"))
    return timed(
        lambda: page.goto(f"{console.url}/channels?open={channel_id}"),
        page,
        lambda p: p.get_by_role("dialog").get_by_text("Timeline"),
    )


def _search_box(page: Page) -> Any:
    return page.get_by_test_id("stMain").get_by_role("textbox", name=re.compile(r"^Search"))


def old_event_search(page: Page, console: Console, word: str) -> float:
    """An "All time" search for a word only the oldest event holds: found when the page says 1 matching event."""
    open_settled(page, f"{console.url}/events?events_range=All+time", _title("Events"))
    page.get_by_text("Live", exact=True).click()  # paused, as an operator does to read: the rows stay put
    settle(page)
    _search_box(page).fill(word)
    return timed(lambda: _search_box(page).press("Enter"), page, lambda p: p.get_by_text("1 matching events"))


def client_search(page: Page, console: Console, name: str) -> float:
    """A client searched by its name: found when the page counts as many clients as the search finds, the
    client's name among them."""
    with contextlib.closing(open_console_db(console.db_path)) as db:
        found = count_clients(db, name)
    open_settled(page, f"{console.url}/clients", _title("Clients"))
    _search_box(page).fill(name)
    seconds = timed(
        lambda: _search_box(page).press("Enter"),
        page,
        lambda p: p.get_by_text(re.compile(rf"^{found:,} clients?$")),
    )
    expect(page.locator("[role=gridcell]", has_text=name).first).to_be_attached()
    return seconds


def channel_filter(page: Page, console: Console) -> float:
    open_settled(page, f"{console.url}/channels", _title("Channels and keys"))
    page.get_by_text("Live", exact=True).click()  # paused: no refresh of the list lands during the step
    settle(page)
    status = page.get_by_role("combobox", name="Status")
    status.click()
    option = page.get_by_role("option", name="ready", exact=True)
    return timed(option.click, page, lambda p: p.get_by_role("heading", name="Channels matching the filters"))


def running_channel_without_key(console: Console, run: int) -> str:
    """A new number onboarded in the hub (so that 360dialog's side can make its key), once the console has it as
    running."""
    made = console.sandbox.onboard(f"Bench Key Shop {run}", [f"+4915170{run:06d}"])
    channel_id = made["channel_ids"][0]
    wait_until(
        lambda: console.one("select status from channels where id = ?", (channel_id,)) == "running",
        RUNNING_TIMEOUT_SECONDS,
        f"channel {channel_id} did not reach running in the console",
    )
    return channel_id


def key_generated_and_ready(page: Page, console: Console, run: int) -> float:
    channel_id = running_channel_without_key(console, run)
    dialog = page.get_by_role("dialog")
    open_settled(
        page, f"{console.url}/channels?open={channel_id}", lambda p: p.get_by_role("dialog").get_by_text("Timeline")
    )
    button = dialog.get_by_role("button", name=re.compile(r"^Generate key for "))
    seconds = timed(button.click, page, lambda p: p.get_by_role("dialog").get_by_text("It is shown once"))
    if console.one("select count(*) from key_steps s join api_keys k on k.id = s.key_id where k.channel_id = ?"
                   " and s.status = 'ok'", (channel_id,)) != 3:  # fmt: skip
        raise RuntimeError(f"the key of {channel_id} was generated but not made ready")
    # Leave the key's view as an operator must: the page asks before leaving while a key is on screen.
    dialog.get_by_role("button", name="I have stored it: forget it here").click()
    settle(page)
    return seconds
