"""Page script run time and peak memory: Events with 1,000 vs 1,000,000 events (over 60 days), Channels with 100
vs 100,000.

The Events page is measured in three views, each opened as its link would open it: the default (last 24 hours),
an "All time" search for a word only the oldest event holds (the run fails unless it is found), and an "All
time" view of one channel. Each size is seeded once by one subprocess, and each view measured by a fresh one
(so its peak RSS is the page's alone): run the page once to warm up, time RUNS more runs with AppTest, then one
more run under tracemalloc. The Channels page, which runs in milliseconds, is measured so in five rounds, its two
sizes taking turns. The ratio uses the fastest run of each size, the least disturbed by other work on the
machine; medians are printed too.
Run alone: `python -m bench pages`; `python -m bench pages --events 1000 100000 --views "all-time prefix"` measures
other sizes of the Events page, or some of its views; `python -m bench pages --channels 100 100000` the Channels
page alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import harness
from bench.seed import BENCH_CHANNEL, OLD_WORD

ROOT = Path(__file__).resolve().parent.parent
RUNS = 11
# Rounds of RUNS runs per page and size, the sizes taking turns: the Channels page runs in about 15 ms, so one
# round is over in a fraction of a second and a burst of other work can land on one size alone.
ROUNDS = {"events": 1, "channels": 5}
# Each view is the page opened with these URL parameters (the widgets' keys).
VIEWS = {
    "events": {
        "default": {},
        "all-time search": {"events_range": "All time", "events_q": OLD_WORD},
        "all-time channel": {"events_range": "All time", "events_channel": BENCH_CHANNEL},
        # Four event types in seven start with "channel": a prefix with many matches, at every size.
        "all-time prefix": {"events_range": "All time", "events_q": "cha*"},
        # Too short a prefix: the page searches the whole word "c" (it used to read every word starting so).
        "short prefix": {"events_q": "c*"},
    },
    "channels": {"default": {}},
}
# What each view must show, lest a fast page be a page that found nothing.
EXPECTED_TEXT = {("events", "all-time search"): "1 matching events"}
CASES = (("events", 1_000, 1_000_000), ("channels", 100, 100_000))
TARGET_RATIO = 1.5


def _use_folder(folder: Path) -> None:
    os.environ["CONSOLE_DATA_DIR"] = str(folder / "data")
    os.environ["CONSOLE_SECRETS_FILE"] = str(folder / "secrets.toml")
    for key in ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD"):
        os.environ.pop(key, None)


def _seed(page: str, size: int, folder: Path) -> dict[str, float]:
    from bench.seed import seed_channels, seed_events
    from services.store import open_console_db

    _use_folder(folder)
    db = open_console_db(folder / "data" / "console.db")
    started = time.perf_counter()
    (seed_events if page == "events" else seed_channels)(db, size)
    seconds = time.perf_counter() - started
    db.close()
    return {"seed_s": seconds}


def _run(page: str, view: str, folder: Path) -> dict[str, Any]:
    from streamlit.testing.v1 import AppTest

    _use_folder(folder)
    app = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=120)
    app.query_params.update(VIEWS[page][view])
    app.run()
    if app.exception:
        raise SystemExit(f"{page} page failed: {app.exception}")
    expected = EXPECTED_TEXT.get((page, view))
    if expected and not any(expected in element.value for element in app.text):
        raise SystemExit(f"{page} page, {view}: {expected!r} not shown")
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        app.run()
        timings.append(time.perf_counter() - started)
    tracemalloc.start()
    app.run()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    app.session_state["db"].close()
    return {
        "timings_s": timings,
        "traced_peak_mb": traced_peak / 1e6,
        "max_rss_mb": harness.max_rss_mb(),
    }


def _subprocess(*args: str) -> dict[str, Any]:
    return harness.measured_in_subprocess("bench.bench_pages", *args)


def _pooled(seeded: dict[str, float], runs: list[dict[str, Any]]) -> dict[str, float]:
    """One view's numbers at one size over every round: fastest and median of all its timed runs."""
    timings = [timing for run in runs for timing in run["timings_s"]]
    return {
        **seeded,
        "median_s": statistics.median(timings),
        "min_s": min(timings),
        "runs": len(timings),
        "traced_peak_mb": max(run["traced_peak_mb"] for run in runs),
        "max_rss_mb": max(run["max_rss_mb"] for run in runs),
    }


def _measure(page: str, sizes: tuple[int, int], views: list[str]) -> dict[int, dict[str, dict[str, float]]]:
    """Per size and view, its numbers: each size seeded once, then the sizes measured in turn, ROUNDS[page] times,
    so a burst of other work on the machine falls on both sizes rather than on one."""
    with ExitStack() as stack:
        folders = {size: stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pages-")) for size in sizes}
        seeded = {size: _subprocess("--seed", page, str(size), folders[size]) for size in sizes}
        runs: dict[tuple[int, str], list[dict[str, Any]]] = {(size, view): [] for size in sizes for view in views}
        for _ in range(ROUNDS[page]):
            for size in sizes:
                for view in views:
                    runs[size, view].append(_subprocess("--run", page, view, folders[size]))
        return {size: {view: _pooled(seeded[size], runs[size, view]) for view in views} for size in sizes}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench pages")
    parser.add_argument("--events", nargs=2, type=int, metavar=("SMALL", "LARGE"), help="Events page sizes")
    parser.add_argument("--views", nargs="+", help="Events page views (all by default)")
    parser.add_argument("--channels", nargs=2, type=int, metavar=("SMALL", "LARGE"), help="Channels page sizes")
    return parser.parse_args(argv or [])


def _cases(arguments: argparse.Namespace) -> tuple[tuple[str, int, int], ...]:
    """Both pages at their default sizes, or only the page (or pages) the arguments name."""
    if not (arguments.events or arguments.views or arguments.channels):
        return CASES
    cases = []
    if arguments.events or arguments.views:
        cases.append(("events", *(arguments.events or CASES[0][1:])))
    if arguments.channels:
        cases.append(("channels", *arguments.channels))
    return tuple(cases)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    for page, small, large in _cases(arguments):
        views = arguments.views if page == "events" and arguments.views else list(VIEWS[page])
        unknown = set(views) - set(VIEWS[page])
        if unknown:
            raise SystemExit(f"no such view: {', '.join(sorted(unknown))}; known: {', '.join(VIEWS[page])}")
        results = _measure(page, (small, large), views)
        for view in views:
            for size in (small, large):
                numbers = results[size][view]
                print(
                    f"{page:8} {view:16} {size:>9,} rows: page run median {numbers['median_s'] * 1000:7.1f} ms "
                    f"(min {numbers['min_s'] * 1000:.1f} ms over {numbers['runs']} runs), page-run peak traced "
                    f"{numbers['traced_peak_mb']:.1f} MB, process max RSS {numbers['max_rss_mb']:.0f} MB "
                    f"(seeded in {numbers['seed_s']:.1f} s)"
                )
            ratio = results[large][view]["min_s"] / results[small][view]["min_s"]
            verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
            median_ratio = results[large][view]["median_s"] / results[small][view]["median_s"]
            print(
                f"{page:8} {view:16} ratio {large:,} / {small:,}: {ratio:.2f}x fastest runs "
                f"(target <= {TARGET_RATIO}x) {verdict}; {median_ratio:.2f}x medians"
            )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--seed":
        print(json.dumps(_seed(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))))
    elif len(sys.argv) == 5 and sys.argv[1] == "--run":
        print(json.dumps(_run(sys.argv[2], sys.argv[3], Path(sys.argv[4]))))
    else:
        sys.exit(main())
