"""The browser benchmark's harness on a tiny seeded console, in the suite's Chromium: a positive time for every
action (each action waits for what it expects, so a time means the action found it), and a row for each."""

from __future__ import annotations

import pytest

from bench.bench_browser import ACTIONS, measure, rows
from bench.browser_seed import Sizes

pytestmark = [pytest.mark.browser, pytest.mark.processes]  # Chromium, and the stack's processes


def test_every_action_is_timed_on_a_seeded_console(browser, tmp_path) -> None:
    # The suite's one Playwright per process: a second sync_playwright() in a worker that already ran a browser
    # file would find the first one's loop running.
    times = measure(browser, Sizes(channels=50, clients=10, events=500), runs=1, cache=tmp_path / "cache")
    assert list(times) == list(ACTIONS)
    assert all(len(seconds) == 1 and seconds[0] > 0 for seconds in times.values()), times
    assert [row.action for row in rows(times, times)] == list(ACTIONS)
