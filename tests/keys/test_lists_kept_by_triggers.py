"""What triggers keep for the work queue and the Channels page's buttons is always what asking afresh finds: the
channels wanting a key (listed and counted: the channels a bulk run would list) and the keys not ready to use,
after any mix of new channels, status and permission changes, revocations, endings, key attempts and their
outcomes, readiness steps, deletions and a demo reset."""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Callable

import pytest
from sqlite_utils import Database

from services.channels.endings import still_open
from services.demo.controls import reset_console
from services.keys.bulk import eligible_channel_ids, eligible_count
from services.keys.key_status import STEPS
from services.keys.readiness import UNPREPARED_SQL, unprepared_channel_ids, unprepared_count
from services.migrations import console_migrations
from services.read_models.work_queue import running_without_key

EVERY = 10**6  # no cap: the count itself is compared
STATUSES = ("running", "running", "running", "created", "pending", "ready", None)
PERMISSIONS = ("granted", "granted", "unknown", "denied", None)
OUTCOMES = ("ok", "ok", "failed", "unknown", "pending")
KEY_STATUSES = ("active", "active", "revoked", "unusable", None)
STEP_STATUSES = ("ok", "ok", "attention", "not_verifiable", "failed", "skipped")


def wanting_afresh(db: Database, *, direct_paid: bool) -> set[str]:
    return set(still_open(db, eligible_channel_ids(db, direct_paid=direct_paid, limit=EVERY)))


def assert_kept(db: Database, after: str) -> None:
    """The list and its counts equal the channels a bulk run would list, found afresh; each listed since its
    status changed, as the work queue shows it."""
    for direct_paid in (False, True):
        wanting = wanting_afresh(db, direct_paid=direct_paid)
        granted_only = "where granted = 1" if direct_paid else ""
        listed = {row[0] for row in db.execute(f"select channel_id from channels_wanting_key {granted_only}")}
        assert listed == wanting, f"after {after} (direct_paid={direct_paid})"
        assert eligible_count(db, direct_paid=direct_paid, limit=EVERY) == len(wanting), f"after {after}"
    stale = db.execute(
        "select count(*) from channels_wanting_key w join channels c on c.id = w.channel_id"
        " where w.since is not c.status_changed_at"
    ).fetchone()[0]
    assert stale == 0, f"after {after}"
    queued = [item.channel_id for item in running_without_key(db, limit=EVERY)]
    assert set(queued) == wanting_afresh(db, direct_paid=False), f"after {after}"
    not_ready = {(row["key_id"], row["channel_id"], row["created_at"]) for row in db.query(UNPREPARED_SQL)}
    listed_keys = {row[:3] for row in db.execute("select key_id, channel_id, created_at from keys_not_ready")}
    assert listed_keys == not_ready, f"after {after}"
    assert sorted(unprepared_channel_ids(db, EVERY)) == sorted(row[1] for row in not_ready), f"after {after}"
    assert unprepared_count(db, EVERY) == len(not_ready), f"after {after}"


class RandomWrites:
    """Writes as the sync, the webhooks, key generation and an operator make them, chosen at random."""

    def __init__(self, db: Database, seed: int) -> None:
        self.db = db
        self.rng = random.Random(seed)
        self.made = 0

    # Every choice comes from the seeded generator (never SQLite's random()), so a seed replays the same writes.
    def pick(self, sql: str) -> object:
        rows = [row[0] for row in self.db.execute(sql)]
        return self.rng.choice(rows) if rows else None

    def channel(self) -> str | None:
        return self.pick("select id from channels order by id")

    def key(self) -> int | None:
        return self.pick("select id from api_keys order by id")

    def add_channel(self) -> None:
        self.made += 1
        self.db["channels"].insert(
            {
                "id": f"w{self.made}CH",
                "status": self.rng.choice(STATUSES),
                "permission": self.rng.choice(PERMISSIONS),
                "revoked": self.rng.choice((0, 0, 0, 1)),
                "status_changed_at": f"2026-11-{self.rng.randrange(10, 30)}T10:00:00+00:00",
            }
        )

    def change_channel(self) -> None:
        channel_id = self.channel()
        column, value = self.rng.choice(
            (
                ("status_changed_at", f"2026-11-{self.rng.randrange(10, 30)}T10:00:00+00:00"),
                ("status", self.rng.choice(STATUSES)),
                ("permission", self.rng.choice(PERMISSIONS)),
                ("revoked", self.rng.choice((0, 1))),
                ("terminated_at", self.rng.choice(("2026-11-30T10:00:00+00:00", None))),
                ("cancellation", self.rng.choice(("requested", "cancelled", None))),
            )
        )
        self.db.execute(f"update channels set {column} = ? where id = ?", [value, channel_id])

    def rename_channel(self) -> None:
        self.made += 1
        self.db.execute("update channels set id = ? where id = ?", [f"w{self.made}CH", self.channel()])

    def delete_channel(self) -> None:
        self.db.execute("delete from channels where id = ?", [self.channel()])

    def add_key(self) -> None:
        channel_id = self.channel() if self.rng.random() < 0.9 else "noSuchCH"
        with contextlib.suppress(sqlite3.IntegrityError):  # one attempt in flight per channel
            self.db["api_keys"].insert(
                {
                    "channel_id": channel_id,
                    "operator": "ops",
                    "created_at": "t",
                    "outcome": self.rng.choice(OUTCOMES),
                    "status": self.rng.choice(KEY_STATUSES),
                }
            )

    def settle_key(self) -> None:
        with contextlib.suppress(sqlite3.IntegrityError):
            self.db.execute(
                "update api_keys set outcome = ?, status = ? where id = ?",
                [self.rng.choice(OUTCOMES), self.rng.choice(KEY_STATUSES), self.key()],
            )

    def revoke_keys(self) -> None:
        # As a new key does to a channel's earlier ones: several rows in one statement.
        self.db.execute(
            "update api_keys set status = 'revoked' where channel_id = ? and status = 'active'", [self.channel()]
        )

    def move_key(self) -> None:
        with contextlib.suppress(sqlite3.IntegrityError):
            self.db.execute("update api_keys set channel_id = ? where id = ?", [self.channel(), self.key()])

    def delete_key(self) -> None:
        key_id = self.key()
        self.db.execute("delete from key_steps where key_id = ?", [key_id])
        self.db.execute("delete from api_keys where id = ?", [key_id])

    def step_done(self) -> None:
        key_id = self.key()
        if key_id is not None:
            self.db["key_steps"].upsert(
                {
                    "key_id": key_id,
                    "step": self.rng.choice(STEPS),
                    "status": self.rng.choice(STEP_STATUSES),
                    "at": "t",
                },
                pk=("key_id", "step"),
            )

    def step_redone(self) -> None:
        rowid = self.pick("select rowid from key_steps order by rowid")
        self.db.execute("update key_steps set status = ? where rowid = ?", [self.rng.choice(STEP_STATUSES), rowid])

    def step_forgotten(self) -> None:
        rowid = self.pick("select rowid from key_steps order by rowid")
        self.db.execute("delete from key_steps where rowid = ?", [rowid])

    def reset(self) -> None:
        reset_console(self.db)

    def steps(self) -> list[tuple[Callable[[], None], int]]:
        return [
            (self.add_channel, 8),
            (self.change_channel, 10),
            (self.rename_channel, 1),
            (self.delete_channel, 2),
            (self.add_key, 8),
            (self.settle_key, 5),
            (self.revoke_keys, 3),
            (self.move_key, 1),
            (self.delete_key, 2),
            (self.step_done, 10),
            (self.step_redone, 4),
            (self.step_forgotten, 2),
        ]

    def one(self) -> str:
        steps, weights = zip(*self.steps(), strict=True)
        step = self.rng.choices(steps, weights)[0]
        with self.db.atomic():
            step()
        return step.__name__


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_channels_wanting_a_key_are_those_found_afresh_after_random_writes(db: Database, seed: int) -> None:
    writes = RandomWrites(db, seed)
    seen = set()
    for index in range(600):
        if index == 300:
            writes.reset()
            assert_kept(db, "a demo reset")
            assert eligible_count(db, limit=EVERY) == 0
        assert_kept(db, writes.one())
        seen.add(eligible_count(db, limit=EVERY))
    assert len(seen) > 5  # the count went up and down, not stuck at nothing


def test_the_button_counts_no_more_than_a_run_lists(db: Database) -> None:
    with db.atomic():
        db["channels"].insert_all({"id": f"c{index}CH", "status": "running"} for index in range(5))
    assert eligible_count(db) == 5
    assert eligible_count(db, limit=3) == 3


def test_channels_stored_before_the_count_are_counted(tmp_path) -> None:
    db = Database(sqlite3.connect(str(tmp_path / "old.db")))
    try:
        console_migrations.apply(db, stop_before="m032_work_queue_reads_bounded")
        with db.atomic():
            writes = RandomWrites(db, 4)
            for _ in range(120):
                writes.one()
            # However the random writes fell, some channels want a key when the migration first counts them.
            db["channels"].insert_all(
                {"id": f"before{index}CH", "status": "running", "permission": "granted"} for index in range(3)
            )
        console_migrations.apply(db)
        assert eligible_count(db, limit=EVERY) >= 3
        assert_kept(db, "the migration")
    finally:
        db.close()
