"""The browser benchmark's harness on a tiny seeded console, in the suite's Chromium: a positive time for every
action (each action waits for what it expects, so a time means the action found it), and a row for each."""

from __future__ import annotations

import pytest

from bench.bench_browser import ACTIONS, measure, rows
from bench.browser_actions import timed
from bench.browser_seed import Sizes

pytestmark = [pytest.mark.browser, pytest.mark.processes]  # Chromium, and the stack's processes


def test_every_action_is_timed_on_a_seeded_console(browser, tmp_path) -> None:
    # The suite's one Playwright per process: a second sync_playwright() in a worker that already ran a browser
    # file would find the first one's loop running.
    times = measure(browser, Sizes(channels=50, clients=10, events=500), runs=1, cache=tmp_path / "cache")
    assert list(times) == list(ACTIONS)
    assert all(len(seconds) == 1 and seconds[0] > 0 for seconds in times.values()), times
    assert [row.action for row in rows(times, times)] == list(ACTIONS)


# A page as Streamlit leaves it once done, whose "Shown" heading appears APPEARS_AFTER_MS after its button is
# pressed.
APPEARS_AFTER_MS = 400
DELAYED_PAGE = f"""
<div data-testid="stApp" data-test-script-state="notRunning">
  <button onclick="setTimeout(() => document.body.insertAdjacentHTML('beforeend', '<h1>Shown</h1>'),
                               {APPEARS_AFTER_MS})">Show</button>
</div>
"""


def test_an_action_is_timed_to_when_it_shows_not_to_the_next_poll(browser) -> None:
    # Playwright's own `expect` asks after 0, 20, 50, 100 and 100 ms, then every 500 ms: a heading shown at
    # 0.4 s is seen at 0.77 s at the earliest (1.02 s measured). The best of three tries, as a machine busy with
    # other tests may hold up any one of them.
    page = browser.new_page()
    try:
        tries = []
        for _ in range(3):
            page.set_content(DELAYED_PAGE)
            show = page.get_by_role("button", name="Show").click
            tries.append(timed(show, page, lambda p: p.get_by_role("heading", name="Shown")))
    finally:
        page.close()
    assert APPEARS_AFTER_MS / 1000 <= min(tries) < 0.75, tries
