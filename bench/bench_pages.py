"""Page script run time and peak memory: Events with 1,000 vs 1,000,000 events, Channels with 100 vs 100,000.

Each size is seeded by one subprocess and measured by a fresh one (so its peak RSS is the page's alone): run the
page once to warm up, time RUNS more runs with AppTest, then one more run under tracemalloc. The ratio uses the
fastest run of each size, the least disturbed by other work on the machine; medians are printed too.
Run alone: `python -m bench pages`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 11
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


def _run(page: str, folder: Path) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    _use_folder(folder)
    app = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=120)
    app.run()
    if app.exception:
        raise SystemExit(f"{page} page failed: {app.exception}")
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
        "median_s": statistics.median(timings),
        "min_s": min(timings),
        "traced_peak_mb": traced_peak / 1e6,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _subprocess(*args: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.bench_pages", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _measure(page: str, size: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        return {**_subprocess("--seed", page, str(size), folder), **_subprocess("--run", page, folder)}


def main(argv: list[str] | None = None) -> int:
    for page, small, large in CASES:
        results = {size: _measure(page, size) for size in (small, large)}
        for size, numbers in results.items():
            print(
                f"{page:8} {size:>9,} rows: page run median {numbers['median_s'] * 1000:7.1f} ms "
                f"(min {numbers['min_s'] * 1000:.1f} ms over {RUNS} runs), page-run peak traced "
                f"{numbers['traced_peak_mb']:.1f} MB, process max RSS {numbers['max_rss_mb']:.0f} MB "
                f"(seeded in {numbers['seed_s']:.1f} s)"
            )
        ratio = results[large]["min_s"] / results[small]["min_s"]
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
        median_ratio = results[large]["median_s"] / results[small]["median_s"]
        print(
            f"{page:8} ratio {large:,} / {small:,}: {ratio:.2f}x fastest runs (target <= {TARGET_RATIO}x) {verdict}; "
            f"{median_ratio:.2f}x medians"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--seed":
        print(json.dumps(_seed(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))))
    elif len(sys.argv) == 4 and sys.argv[1] == "--run":
        print(json.dumps(_run(sys.argv[2], Path(sys.argv[3]))))
    else:
        main()
