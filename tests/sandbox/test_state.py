"""The sandbox hub's state: a reset forgets everything, and an older sandbox file is migrated."""

from __future__ import annotations

import json

from sqlite_utils import Database

from services.sandbox import state
from services.sandbox.scenario import seed_sandbox
from services.store import apply_migrations, connect


def test_reset_forgets_everything(sandbox_db: Database) -> None:
    seed_sandbox(sandbox_db, seed=1)
    state.issue_key(sandbox_db, next(sandbox_db["channels"].rows)["id"])
    state.set_switches(sandbox_db, {"send_twice": True})
    state.reset(sandbox_db)
    for table in ("clients", "channels", "keys", "outbox", "switches"):
        assert sandbox_db[table].count == 0


def test_an_older_sandbox_file_is_migrated(tmp_path) -> None:
    path = tmp_path / "sandbox.db"
    old = connect(path)
    state.sandbox_migrations.apply(old, stop_before="m002_partner_api_tables")
    with old.atomic():
        old["outbox"].insert({"body": json.dumps({"event": "channel_created"}), "due_at": 0})
    old.close()
    db = connect(path)
    apply_migrations(db, state.sandbox_migrations)
    assert next(db["outbox"].rows)["event"] == "channel_created"
    assert db["tokens"].exists()
    db.close()
