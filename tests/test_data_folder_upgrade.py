"""A data folder made before migrations were renamed opens with today's code, nothing lost or applied twice."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from services.migrations import CONSOLE_FORMER_NAMES, console_migrations
from services.sandbox.state import SANDBOX_FORMER_NAMES, open_sandbox_db, sandbox_migrations
from services.store import open_console_db
from tests.support import FIXTURES

FOLDER = FIXTURES / "data_folder_before_packages"
CASES = {
    "console": (open_console_db, console_migrations, CONSOLE_FORMER_NAMES),
    "sandbox": (open_sandbox_db, sandbox_migrations, SANDBOX_FORMER_NAMES),
}


def _unpack(name: str, folder: Path) -> Path:
    path = folder / f"{name}.db"
    with gzip.open(FOLDER / f"{name}.db.gz") as packed, path.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    return path


def _columns(path: Path) -> dict[str, list[str]]:
    """Each table's columns, but the migrations record and SQLite's own."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute("select name from sqlite_master where type = 'table' order by name")
            if not name.startswith(("_sqlite_migrations", "sqlite_"))
        ]
        return {table: [row[1] for row in conn.execute(f"pragma table_info([{table}])")] for table in tables}
    finally:
        conn.close()


def _rows(path: Path, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Every row of the given tables, those columns only, in a stable order."""
    conn = sqlite3.connect(path)
    try:
        return {
            table: sorted(conn.execute(f"select {', '.join(names)} from [{table}]"), key=repr)
            for table, names in columns.items()
        }
    finally:
        conn.close()


def _schema(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return {
            (kind, name)
            for kind, name in conn.execute("select type, name from sqlite_master where name not like 'sqlite_%'")
        }
    finally:
        conn.close()


def _recorded(path: Path, migration_set: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("select name from _sqlite_migrations where migration_set = ?", [migration_set])
        return sorted(name for (name,) in rows)
    finally:
        conn.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_old_folder_records_only_former_names(name: str, tmp_path: Path) -> None:
    # Guards the fixture itself: it must hold the names this test is about.
    path = _unpack(name, tmp_path)
    former = CASES[name][2]
    assert set(former) <= set(_recorded(path, name))
    assert not set(former.values()) & set(_recorded(path, name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_old_folder_upgrades_with_no_row_lost(name: str, tmp_path: Path) -> None:
    opener, migrations, _ = CASES[name]
    path = _unpack(name, tmp_path)
    old_columns = _columns(path)
    before = _rows(path, old_columns)
    assert sum(len(rows) for rows in before.values()) > 100

    db = opener(path)
    try:
        assert migrations.pending(db) == []
    finally:
        db.close()

    assert _rows(path, old_columns) == before
    fresh = opener(":memory:")
    try:
        every_name = sorted(row["name"] for row in fresh[migrations.migrations_table].rows)
    finally:
        fresh.close()
    assert _recorded(path, name) == every_name


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_upgraded_folder_has_the_schema_of_a_new_one(name: str, tmp_path: Path) -> None:
    opener = CASES[name][0]
    old_path = _unpack(name, tmp_path)
    new_path = tmp_path / f"new-{name}.db"
    for path in (old_path, new_path):
        opener(path).close()
    assert _schema(old_path) == _schema(new_path)


def test_redirects_stored_before_verdicts_are_marked_as_applied_unchecked(tmp_path: Path) -> None:
    path = _unpack("console", tmp_path)
    open_console_db(path).close()
    conn = sqlite3.connect(path)
    try:
        verdicts = dict(conn.execute("select verdict, count(*) from redirects group by verdict"))
    finally:
        conn.close()
    assert verdicts == {"applied_unchecked": 40}
