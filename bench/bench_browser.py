"""The console in Chromium at a partner's size against the demo's: every page's first paint, a channel opened from
the work queue and by its link, an "All time" Events search for the oldest event, a Clients search, a key
generated and made ready, a filter change on the Channels page; each timed from the click to settled
(bench/browser_actions.py), several runs, median and worst.

The data at size (100,000 channels across 10,000 clients, 1,000,000 events over 60 days by default) is seeded
once into `.bench-data/` and copied for each run (bench/browser_seed.py); the demo's is the realistic scenario
(`python -m services.demo.scenario`). Each runs on its own demo stack (`python -m services.stack`) on free ports.

`python -m bench browser [--channels N] [--clients N] [--events N] [--runs 5]`
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.browser_actions import (
    SIDEBAR_PAGES,
    VIEWPORT,
    Console,
    channel_by_link,
    channel_filter,
    channel_from_queue,
    client_search,
    key_generated_and_ready,
    old_event_search,
    sidebar_pages,
    wait_until,
)
from bench.browser_seed import CACHE, OLD_WORD, Sizes, cached_seed, copy_seed
from services.demo.hub_client import SandboxClient
from services.settings import DEMO_SECRETS_FILE
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.stack import RunningStack, start_stack

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
TARGET_SECONDS = 1.0
TARGET_RATIO = 1.5
STACK_START_SECONDS = 300
SCENARIO_SEED = 27
SCENARIO_WEBHOOKS_SECONDS = 180
ACTIONS = (
    *(f"page: {name}" for name, _ in SIDEBAR_PAGES),
    "channel from the work queue",
    "channel by its link",
    "Events search, oldest event",
    "Clients search",
    "key generated and made ready",
    "Channels filter change",
)


@dataclass(frozen=True)
class Row:
    action: str
    demo: list[float]
    at_size: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.at_size) / statistics.median(self.demo)

    @property
    def met(self) -> bool:
        return statistics.median(self.at_size) <= TARGET_SECONDS and self.ratio <= TARGET_RATIO


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextmanager
def _stack(sizes: Sizes | None, cache: Path) -> Iterator[RunningStack]:
    """A demo stack on a copy of the seeded data (or, without sizes, on the demo's realistic scenario)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    data_dir = folder / "data"
    if sizes is not None:
        copy_seed(cached_seed(sizes, cache), data_dir)
    else:
        data_dir.mkdir(mode=0o700)
    stack = start_stack(data_dir, timeout=STACK_START_SECONDS)
    try:
        if sizes is None:
            _load_the_demo_scenario(stack)
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _load_the_demo_scenario(stack: RunningStack) -> None:
    """The scenario as `python -m services.demo.scenario` loads it, then every webhook it queued stored."""
    said = subprocess.run(
        [sys.executable, "-m", "services.demo.scenario", "--seed", str(SCENARIO_SEED)],
        cwd=ROOT,
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    queued = int(re.search(r"(\d+) webhooks queued", said).group(1))
    console = _console(stack)
    try:
        wait_until(
            lambda: console.one("select count(*) from events") >= queued,
            SCENARIO_WEBHOOKS_SECONDS,
            "the demo's webhooks were not all stored in time",
        )
    finally:
        console.sandbox.close()


def _console(stack: RunningStack) -> Console:
    secrets = json.loads((stack.data_dir / DEMO_SECRETS_FILE).read_text())
    sandbox = SandboxClient(stack.sandbox_url, secrets["partner_api_key"])
    return Console(stack.public_url, stack.data_dir / "console.db", sandbox)


def _oldest_event_word(console: Console, seeded: bool) -> str:
    """The seeded data's old word; in the demo's, the id of the oldest event that has one (only it holds it)."""
    if seeded:
        return OLD_WORD
    body = console.one("select raw_body from events where raw_body like '{\"id\": %' order by received_at limit 1")
    return json.loads(body)["id"]


def _a_client_name(console: Console) -> str:
    return console.one(
        "select name from clients where name is not null order by id"
        " limit 1 offset (select count(*) / 2 from clients where name is not null)"
    )


def measure(browser: object, sizes: Sizes | None, runs: int, cache: Path = CACHE) -> dict[str, list[float]]:
    """Each action's times in seconds, `runs` of each, after one untimed round of the pages (the first load of
    each page script)."""
    times: dict[str, list[float]] = {action: [] for action in ACTIONS}
    with _stack(sizes, cache) as stack:
        console = _console(stack)
        word, client = _oldest_event_word(console, sizes is not None), _a_client_name(console)
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            sidebar_pages(page, console)
            for run in range(runs):
                for action, seconds in sidebar_pages(page, console).items():
                    times[action].append(seconds)
                times["channel from the work queue"].append(channel_from_queue(page, console))
                times["channel by its link"].append(channel_by_link(page, console))
                times["Events search, oldest event"].append(old_event_search(page, console, word))
                times["Clients search"].append(client_search(page, console, client))
                times["key generated and made ready"].append(key_generated_and_ready(page, console, run))
                times["Channels filter change"].append(channel_filter(page, console))
        finally:
            context.close()
            console.sandbox.close()
    return times


def rows(demo: dict[str, list[float]], at_size: dict[str, list[float]]) -> list[Row]:
    return [Row(action, demo[action], at_size[action]) for action in ACTIONS]


def table(measured: list[Row], sizes: Sizes) -> str:
    lines = [
        f"{'action':32} {'demo median':>11} {'at size median':>14} {'worst':>7} {'ratio':>6}   target"
        f" (<= {TARGET_SECONDS:.1f} s and <= {TARGET_RATIO}x)",
    ]
    for row in measured:
        lines.append(
            f"{row.action:32} {statistics.median(row.demo):10.2f}s {statistics.median(row.at_size):13.2f}s"
            f" {max(row.at_size):6.2f}s {row.ratio:5.2f}x   {'met' if row.met else 'MISSED'}"
        )
    lines.append(f"at size: {sizes.channels:,} channels, {sizes.clients:,} clients, {sizes.events:,} events")
    return "\n".join(lines)


@contextmanager
def launched_chromium() -> Iterator[object]:
    """Debian's chromium, headless, with the flags the browser tests launch it with."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench browser")
    parser.add_argument("--channels", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    sizes = Sizes(args.channels, args.clients, args.events)
    cached_seed(sizes)  # seeded before any stack starts, so that seeding never shares the cores with one
    with launched_chromium() as browser:
        print(f"demo size: load average {_load_average()}", flush=True)
        demo = measure(browser, None, args.runs)
        print(f"at size: load average {_load_average()}", flush=True)
        at_size = measure(browser, sizes, args.runs)
        print(f"after: load average {_load_average()}", flush=True)
    measured = rows(demo, at_size)
    print(table(measured, sizes))
    # A missed target is a finding, printed in the table; an action that did not find what it expects raised.
    return 0
