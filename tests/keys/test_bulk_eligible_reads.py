"""Which channels bulk generation offers is worked out without reading the key status of a channel that has an
active key: SQLite's own count of the instructions it ran (not a time) is lower for such a channel than for one
with no key."""

from __future__ import annotations

from services.keys.bulk import eligible_channel_ids
from services.store import open_console_db

CHANNELS = 500


def _instructions(db, with_active_keys: bool) -> int:
    with db.atomic():
        db.conn.executemany(
            "insert into channels (id, status, revoked) values (?, 'running', 0)",
            [(f"{index:04d}CH",) for index in range(CHANNELS)],
        )
        if with_active_keys:
            db.conn.executemany(
                "insert into api_keys (channel_id, operator, created_at, outcome, status)"
                " values (?, 'ops', 't', 'ok', 'active')",
                [(f"{index:04d}CH",) for index in range(CHANNELS)],
            )
    ran = 0

    def count() -> int:
        nonlocal ran
        ran += 1
        return 0  # go on

    db.conn.set_progress_handler(count, 1)
    try:
        eligible = eligible_channel_ids(db)
    finally:
        db.conn.set_progress_handler(None, 1)
    assert len(eligible) == (0 if with_active_keys else CHANNELS)
    return ran


def test_a_channel_with_an_active_key_is_ruled_out_before_its_key_status_is_read(db, tmp_path) -> None:
    other = open_console_db(tmp_path / "other.db")
    try:
        without_keys = _instructions(other, with_active_keys=False)
    finally:
        other.close()
    with_keys = _instructions(db, with_active_keys=True)
    assert with_keys < without_keys / 2, (with_keys, without_keys)
