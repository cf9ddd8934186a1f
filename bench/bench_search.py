"""The one search of the Events, Channels and Clients pages at 100,000 channels and 1,000,000 events: how long a
page and its count take for each kind of search, what migration m018 costs, and what a renamed channel costs.

One channel (the one the seeded events name most, see bench.seed) gets the number +34 600 111 222 and the name
"Café Olé"; each search is timed as the pages run it (a page of rows and the capped count), the median of a few
runs, in one process on a fresh SQLite file.

`python -m bench search [--channels 100000] [--events 1000000]`
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database

from bench.seed import BENCH_CHANNEL, seed_channels, seed_events
from services.events.store import EventFilter, count_events, page_events
from services.migrations import m018_search_names_and_national_numbers
from services.read_models.channel_list import ChannelFilter, count_channels, page_channels
from services.read_models.clients import count_clients, page_clients
from services.store import open_console_db

SEARCHES = ("0034 600-111-222", "600111222", "34600111222", "cafe ole", "Shop 123", "shop", "151 001")
RUNS = 5


def _median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _undo_m018(db: Database) -> None:
    """The database as it was before migration m018, so that the migration can be timed on its data."""
    for index in ("channel_names", "client_names"):
        for trigger in ("insert", "update", "delete"):
            db.execute(f"drop trigger {index}_{trigger}")
        db.execute(f"drop table {index}")
    db.execute("drop index idx_channels_phone_national")
    db.execute("alter table channels drop column phone_national")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench search")
    parser.add_argument("--channels", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    db = open_console_db(Path(tempfile.mkdtemp()) / "console.db")
    seed_channels(db, args.channels)
    seed_events(db, args.events)
    with db.atomic():
        db.execute(
            "update channels set id = ?, phone_number = '+34 600 111 222', phone_name = 'Café Olé'"
            " where rowid = (select min(rowid) from channels)",
            [BENCH_CHANNEL],
        )
    with db.atomic():
        _undo_m018(db)
        start = time.perf_counter()
        m018_search_names_and_national_numbers(db)
    print(f"migration m018 on {args.channels:,} channels: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    with db.atomic():
        for index in range(20):
            db.execute("update channels set phone_name = ? where rowid = ?", [f"Renamed {index}", index + 2])
    print(f"a channel renamed: {(time.perf_counter() - start) / 20 * 1000:.1f} ms (its name index entry replaced)")
    print(f"{'search':22} {'channels':>18} {'clients':>18} {'events':>18}   (matches, page and count in ms)")
    for typed in SEARCHES:
        channel_filter, event_filter = ChannelFilter(search=typed), EventFilter(search=typed)
        channels = _median_ms(lambda: (page_channels(db, channel_filter), count_channels(db, channel_filter)))  # noqa: B023
        clients = _median_ms(lambda: (page_clients(db, typed), count_clients(db, typed)))  # noqa: B023
        events = _median_ms(lambda: (page_events(db, event_filter), count_events(db, event_filter)))  # noqa: B023
        print(
            f"{typed!r:22} {count_channels(db, channel_filter):>7} {channels:7.1f} ms"
            f" {count_clients(db, typed):>7} {clients:7.1f} ms {count_events(db, event_filter):>7} {events:7.1f} ms",
            flush=True,
        )
    db.close()
    return 0
