import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from services.migrations import console_migrations
from services.store import connect, open_console_db, utc_now


def test_opening_applies_every_migration_and_uses_wal(tmp_path: Path) -> None:
    db = open_console_db(tmp_path / "console.db")
    try:
        assert console_migrations.pending(db) == []
        assert {"events", "channels", "clients", "io_links", "redirects", "api_keys", "audit"} <= set(db.table_names())
        assert next(db.query("pragma journal_mode"))["journal_mode"] == "wal"
    finally:
        db.close()


def test_processes_opening_together_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "console.db"
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            connect(path, console_migrations).close()
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=open_and_close) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite3.connect(path) as raw:
        applied = raw.execute("select count(*) from _sqlite_migrations where migration_set = 'console'").fetchone()[0]
    assert applied == len(console_migrations._migrations)


def test_timestamps_sort_as_text() -> None:
    first = utc_now()
    second = utc_now()
    assert first <= second
    assert first.endswith("+00:00")


@pytest.mark.processes
def test_a_second_connection_in_the_same_process_keeps_the_first_ones_writes_visible(tmp_path: Path) -> None:
    """Closing any descriptor of a database file drops the process's locks on it; if opening a connection did,
    another process closing its own connection would take the WAL away from the first one, whose later writes
    nobody else would see."""
    path = tmp_path / "console.db"
    first = open_console_db(path)
    second = open_console_db(path)
    try:
        for expected in (1, 2):
            with first.atomic():
                first.execute(
                    "insert into audit (at, operator, action, outcome) values (?, 'ops', 'test', 'ok')", [utc_now()]
                )
            reader = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import sqlite3; print(sqlite3.connect({str(path)!r})"
                    ".execute('select count(*) from audit').fetchone()[0])",
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            assert reader.stdout.strip() == str(expected)
    finally:
        second.close()
        first.close()
