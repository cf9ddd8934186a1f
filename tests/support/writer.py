"""The receiver's writer in tests: events and deliveries to store, an opener that counts commits, what got
listed, a way to make listing fail, and running a scenario against a writer process."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from sqlite_utils import Database

from services.events.webhook import WebhookEvent, parse_webhook_body
from services.receiver.group_commit import Delivery, open_writer_db
from tests.support.receiver import event_body


def event(event_id: str) -> WebhookEvent:
    return parse_webhook_body(event_body(event_id))[0]


def delivery(*events: WebhookEvent) -> Delivery:
    return Delivery(list(events), {"content-type": "application/json"}, "valid")


class TracedOpen:
    """Opens the writer's database and records every statement it runs, to count commits."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, path: Path, busy_timeout: float) -> Database:
        db = open_writer_db(path, busy_timeout)
        db.conn.set_trace_callback(self.statements.append)
        return db

    @property
    def commits(self) -> int:
        return sum(1 for statement in self.statements if statement.strip().upper() == "COMMIT")


def listed(path: Path) -> list[tuple[str, int]]:
    """The events table: what the writer has listed so far, with duplicate counts."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("select dedupe_key, duplicate_count from events order by id").fetchall()


def refuse_listing(path: Path, refuse: bool) -> None:
    """Make every insert into the events table fail (a stand-in for any fault while listing), or stop that."""
    with closing(sqlite3.connect(path)) as conn:
        if refuse:
            conn.execute("create trigger refuse before insert on events begin select raise(abort, 'refused'); end")
        else:
            conn.execute("drop trigger refuse")
        conn.commit()


def run(scenario: Callable[[], Awaitable[object]]) -> object:
    """Run on a fresh event loop, in its own thread: Playwright's sync API may hold a loop in this one."""

    async def main() -> object:
        return await asyncio.wait_for(scenario(), timeout=60)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()
