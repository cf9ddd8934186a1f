"""The data folder is readable by its owner only: 0700, and 0600 for every file SQLite and the locks make."""

from __future__ import annotations

import stat
from pathlib import Path

from services.keys.generation_lock import hold_generation_lock
from services.settings import load_settings
from services.store import open_console_db


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_every_file_in_it_are_private(tmp_path: Path) -> None:
    # The old behaviour: the folder was 755 and console.db 644.
    data = tmp_path / "data"
    load_settings(env={"CONSOLE_DATA_DIR": str(data), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml")})
    db = open_console_db(data / "console.db")
    try:
        with db.atomic():
            db["audit"].insert({"at": "2026", "operator": "ana", "action": "x", "outcome": "ok"})
        with hold_generation_lock(db, "chA1"):
            pass
        files = list(data.rglob("*"))
        assert {path.name for path in files} >= {"console.db", "console.db-wal", "console.db.lock", "locks"}
        assert _mode(data) == 0o700
        for path in files:
            assert _mode(path) == (0o700 if path.is_dir() else 0o600), path.name
    finally:
        db.close()


def test_an_existing_folder_is_made_private_when_opened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "console.db").touch(mode=0o644)
    open_console_db(data / "console.db").close()
    assert (_mode(data), _mode(data / "console.db")) == (0o700, 0o600)
