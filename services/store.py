"""The console's SQLite file: one connection factory, WAL, and migrations applied on open."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database, Migrations

from services.migrations import CONSOLE_FORMER_NAMES, console_migrations

# How long a console write waits for the lock. The receiver's writer commits back to back during a burst and
# SQLite's waiters only poll, so a short wait loses to it again and again (a bulk key run saw "database is
# locked"); the receiver itself sets its own, shorter, wait.
BUSY_TIMEOUT_MS = 30_000
# What a page catches when the database cannot be read, without importing the engine itself.
DatabaseError = sqlite3.Error


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) if needed and make it readable by this user only."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    path.chmod(PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` if needed, empty, readable and writable by this user only; an existing file is kept.

    An existing file is never opened here: closing any descriptor of a database file drops every POSIX lock
    this process holds on it, so a second connection opened beside a live one (the scheduler's alert loop, each
    dashboard session) would leave the first unlocked, and another process closing its own connection would then
    take the WAL away from under it."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    path.chmod(PRIVATE_FILE_MODE)
    return path


def database_file(db: Database) -> Path | None:
    """The file behind the connection's main database (None in memory)."""
    for row in db.execute("pragma database_list").fetchall():
        if row[1] == "main" and row[2]:
            return Path(row[2])
    return None


def like_pattern(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its own % and _ taken literally (use with ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def is_busy(error: BaseException) -> bool:
    """SQLite gave up waiting for another connection's lock (nothing is wrong with the data)."""
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error).lower()


def utc_now() -> str:
    """Timestamps are ISO-8601 UTC text so that they sort and compare as strings."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# After holding the write lock, a connection leaves it free for this share of the time it held it (capped)
# before taking it again. SQLite's waiters poll (every 100 ms at worst); a writer that commits back to back,
# as the receiver does in a burst, would otherwise find the lock taken at every poll and starve the others
# (a bulk key run failed with "database is locked" that way). A tenth of the time free lets a waiter in
# within some dozens of polls, well inside the busy timeout.
WRITE_REST_SHARE = 0.1
WRITE_REST_MAX_SECONDS = 0.05


class WriteLockingDatabase(Database):
    """Every transaction takes the write lock when it begins, and a writer never hogs it.

    A deferred transaction that reads first (sqlite-utils reads the schema before each insert) cannot upgrade
    to a write once another process has committed: SQLite then answers "database is locked" at once instead
    of waiting out the busy timeout. BEGIN IMMEDIATE waits its turn. (`isolation_level="IMMEDIATE"` does the
    same for the implicit transactions of sqlite-utils' own write methods.)
    """

    _free_until = 0.0

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        rest = self._free_until - time.monotonic()
        if rest > 0:
            time.sleep(rest)
        self.conn.execute("BEGIN IMMEDIATE")
        began = time.monotonic()
        try:
            try:
                yield self
            except BaseException:
                self.conn.rollback()
                raise
            try:
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise
        finally:
            ended = time.monotonic()
            self._free_until = ended + min(WRITE_REST_MAX_SECONDS, (ended - began) * WRITE_REST_SHARE)


def connect(
    path: Path | str, migrations: Migrations | None = None, former_names: Mapping[str, str] | None = None
) -> Database:
    """Open a database file in WAL mode and bring its schema up to date."""
    with _initialisation_lock(path):
        conn = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level="IMMEDIATE"
        )
        db = WriteLockingDatabase(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        # FULL: an acknowledged webhook must survive a power cut, not only a process crash.
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        if migrations is not None:
            apply_migrations(db, migrations, former_names)
    return db


@contextlib.contextmanager
def _initialisation_lock(path: Path | str) -> Iterator[None]:
    """Serialise opening across processes: SQLite answers 'locked' without waiting when two connections
    switch a new file to WAL at once."""
    if str(path) == ":memory:":
        yield
        return
    private_dir(Path(path).parent)
    try:
        # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode.
        private_file(Path(path))
        lock_path = private_file(Path(f"{path}.lock"))
    except OSError as error:
        # Said the way SQLite says it, so that callers handle one kind of error for an unusable file.
        raise sqlite3.OperationalError(f"unable to open database file {Path(path).name}: {error.strerror}") from None
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def apply_migrations(db: Database, migrations: Migrations, former_names: Mapping[str, str] | None = None) -> None:
    """Apply pending migrations under a write lock, so processes starting together do not race.

    `former_names` maps a name a migration was recorded under to its name now: a database that recorded
    the old name has it applied, so the record is renamed before anything is applied."""
    if not migrations.pending(db):
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        _rename_recorded(db, migrations.name, former_names or {})
        migrations.apply(db)
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


def _rename_recorded(db: Database, migration_set: str, former_names: Mapping[str, str]) -> None:
    if not former_names or not db[Migrations.migrations_table].exists():
        return
    db.conn.executemany(
        f"update {Migrations.migrations_table} set name = ? where migration_set = ? and name = ?",  # noqa: S608 - a class constant
        [(new, migration_set, old) for old, new in former_names.items()],
    )


def open_console_db(path: Path | str) -> Database:
    return connect(path, console_migrations, CONSOLE_FORMER_NAMES)
