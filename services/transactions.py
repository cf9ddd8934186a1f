"""Write transactions that wait for the lock instead of failing when another connection writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """BEGIN IMMEDIATE takes the write lock up front. A deferred BEGIN that reads first (sqlite-utils reads the
    schema before an insert) cannot upgrade its snapshot once another connection has committed, and SQLite then
    fails at once with "database is locked" instead of waiting out the busy timeout."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()
