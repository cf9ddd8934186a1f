"""A read kept per database file until the rows it was made from change.

The work queue runs on every page run and every 3-second refresh of Today and the Channels page. Two of its
reasons read the last 30 days of events to find the newest of each kind (account alerts, template problems):
at a large partner's size that is tens of thousands of events each time, though they change only when such an
event arrives. Each keeps what it read of the events here, with what tells it when to read again (a key read
from an index, or the newest event it had seen); only the events' side is kept: the channels they reach are
read afresh each time, newest first and only as far as the queue shows (`newest_matches`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from sqlite_utils import Database

from services.store import database_file

Value = TypeVar("Value")


class ReadMemo(Generic[Value]):
    """One value per database file, kept between reads; its reader decides whether it is still good."""

    def __init__(self) -> None:
        self._kept: dict[Path, Value] = {}
        self._lock = threading.Lock()

    def kept(self, db: Database) -> Value | None:
        path = database_file(db)
        with self._lock:
            return self._kept.get(path) if path is not None else None

    def keep(self, db: Database, value: Value) -> None:
        path = database_file(db)
        if path is None:  # an in-memory database has no second reader to share with
            return
        with self._lock:
            self._kept[path] = value


def kept_under(memo: ReadMemo[tuple[Hashable, Value]], db: Database, key: Hashable, make: Callable[[], Value]) -> Value:
    """The value `memo` keeps under `key`, or a new one made and kept under it."""
    kept = memo.kept(db)
    if kept is not None and kept[0] == key:
        return kept[1]
    value = make()
    memo.keep(db, (key, value))
    return value


Item = TypeVar("Item")
Match = TypeVar("Match")


def newest_matches(
    items: Sequence[Item],
    matches_of: Callable[[Sequence[Item]], list[Match]],
    limit: int,
    *,
    item_time: Callable[[Item], str],
    match_time: Callable[[Match], str],
    order: Callable[[list[Match]], None],
    chunk: int = 200,
) -> list[Match]:
    """The first `limit` matches (in `order`, newest first) of items sorted newest first, looking items up a chunk
    at a time: a match is no newer than its item, so once `limit` matches are newer than the chunk's last item,
    no later item can enter."""
    found: list[Match] = []
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        found += matches_of(part)
        order(found)
        if len(found) >= limit and match_time(found[limit - 1]) > item_time(part[-1]):
            break
    return found[:limit]
