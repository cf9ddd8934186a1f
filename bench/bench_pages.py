"""Page script run time and peak memory: Events with 1,000 vs 1,000,000 events, Channels with 100 vs 100,000.

Each size runs in its own subprocess (so peak RSS belongs to that size alone): seed a temp database, run the
page once to warm up, time RUNS more runs with AppTest, then one more run under tracemalloc.
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


def _worker(page: str, size: int) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    from bench.seed import seed_channels, seed_events
    from services.store import open_console_db

    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    os.environ["CONSOLE_DATA_DIR"] = str(folder / "data")
    os.environ["CONSOLE_SECRETS_FILE"] = str(folder / "secrets.toml")
    for key in ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD"):
        os.environ.pop(key, None)
    db = open_console_db(folder / "data" / "console.db")
    started = time.perf_counter()
    (seed_events if page == "events" else seed_channels)(db, size)
    seed_seconds = time.perf_counter() - started
    db.close()

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
        "seed_s": seed_seconds,
        "median_s": statistics.median(timings),
        "min_s": min(timings),
        "traced_peak_mb": traced_peak / 1e6,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _measure(page: str, size: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.bench_pages", "--worker", page, str(size)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    for page, small, large in CASES:
        results = {size: _measure(page, size) for size in (small, large)}
        for size, numbers in results.items():
            print(
                f"{page:8} {size:>9,} rows: page run median {numbers['median_s'] * 1000:7.1f} ms "
                f"(min {numbers['min_s'] * 1000:.1f} ms over {RUNS} runs), page-run peak traced "
                f"{numbers['traced_peak_mb']:.1f} MB, process max RSS {numbers['max_rss_mb']:.0f} MB "
                f"(seeded in {numbers['seed_s']:.1f} s)"
            )
        ratio = results[large]["median_s"] / results[small]["median_s"]
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
        print(f"{page:8} ratio {large:,} / {small:,}: {ratio:.2f}x (target <= {TARGET_RATIO}x) {verdict}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
