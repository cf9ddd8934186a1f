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


def _rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table but the migrations record, in a stable order."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute("select name from sqlite_master where type = 'table' order by name")
            if not name.startswith(("_sqlite_migrations", "sqlite_"))
        ]
        return {table: sorted(conn.execute(f"select * from [{table}]"), key=repr) for table in tables}
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
    before = _rows(path)
    assert sum(len(rows) for rows in before.values()) > 100

    db = opener(path)
    try:
        assert migrations.pending(db) == []
    finally:
        db.close()

    assert _rows(path) == before
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
