"""The sandbox hub's state: the seeded scenario, outbox bookkeeping, reset, and migrating an older file."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlite_utils import Database

from services.onboarding.redirect import parse_redirect
from services.sandbox import outbox, state
from services.sandbox.scenario import CHANNEL_COUNT, CLIENT_COUNT, seed_sandbox
from services.store import apply_migrations, connect


@pytest.fixture
def db() -> Iterator[Database]:
    database = state.open_sandbox_db(":memory:")
    yield database
    database.close()


def test_seed_covers_every_stage_with_keys_downgrades_stuck_and_revoked(db: Database) -> None:
    scenario = seed_sandbox(db, seed=3)
    assert scenario["clients"] == db["clients"].count == CLIENT_COUNT
    assert scenario["channels"] == db["channels"].count == CHANNEL_COUNT
    statuses = Counter(row["status"] for row in db["channels"].rows)
    assert statuses == Counter(scenario["by_status"])
    assert set(statuses) == set(state.CHANNEL_STAGES)
    assert scenario["downgraded"] == db["channels"].count_where("current_quality_rating != 'GREEN'") > 0
    assert scenario["revoked"] == db["channels"].count_where("permission_granted = 0") > 0
    assert scenario["stuck"] > 0
    assert len(scenario["key_channel_ids"]) == 30
    for channel_id in scenario["key_channel_ids"]:
        row = db["channels"].get(channel_id)
        assert (row["status"], row["permission_granted"]) == ("running", 1)
    assert len({row["phone_number"] for row in db["channels"].rows}) == CHANNEL_COUNT


def test_seed_queues_each_channels_history_in_order(db: Database) -> None:
    scenario = seed_sandbox(db, seed=4)
    assert db["outbox"].count == scenario["events"]
    events = [json.loads(row["body"]) for row in db["outbox"].rows_where(order_by="id")]
    seen: dict[str, list[str]] = {}
    for event in events:
        if event["event"] != "client_created":
            seen.setdefault(event["data"]["id"], []).append(event["event"])
    assert len(seen) == CHANNEL_COUNT
    for channel_id, names in seen.items():
        status = db["channels"].get(channel_id)["status"]
        stages = [state.STAGE_EVENTS[s] for s in state.CHANNEL_STAGES[: state.CHANNEL_STAGES.index(status) + 1]]
        assert [name for name in names if name != "phone_number_quality_changed"] == stages
    assert Counter(event["event"] for event in events)["client_created"] == CLIENT_COUNT


def test_seed_redirects_parse_and_name_the_revoked_channels(db: Database) -> None:
    scenario = seed_sandbox(db, seed=5)
    revoked = set()
    for query in scenario["redirects"]:
        redirect = parse_redirect(query)
        revoked.update(redirect.revoked)
        assert db["clients"].get(redirect.client)
    assert revoked == {row["id"] for row in db["channels"].rows_where("permission_granted = 0")}


def test_the_same_seed_gives_the_same_shape(db: Database) -> None:
    first = seed_sandbox(db, seed=9)
    other = state.open_sandbox_db(":memory:")
    second = seed_sandbox(other, seed=9)
    other.close()
    assert first["by_status"] == second["by_status"]
    assert first["events"] == second["events"]


def test_retry_delay_backs_off_and_is_capped() -> None:
    delays = [outbox.retry_delay(attempt) for attempt in range(1, 10)]
    assert delays[:3] == [2.0, 4.0, 8.0]
    assert delays == sorted(delays)
    assert max(delays) == 60.0


def test_mark_failed_pushes_the_delivery_back(db: Database) -> None:
    outbox_id = outbox.enqueue_event(db, "channel_created", {"id": "aCH"}, due_in=0)
    delivery = outbox.due_deliveries(db)[0]
    outbox.mark_failed(db, delivery, "receiver answered 500")
    assert outbox.due_deliveries(db) == []
    row = db["outbox"].get(outbox_id)
    assert (row["attempts"], row["last_error"]) == (1, "receiver answered 500")


def test_out_of_order_holds_back_and_reverses(db: Database) -> None:
    first = outbox.enqueue_event(db, "channel_created", {"id": "aCH"}, due_in=0)
    second = outbox.enqueue_event(db, "channel_status_running", {"id": "aCH"}, due_in=0)
    assert outbox.due_deliveries(db, out_of_order=True, hold=60) == []
    assert [row["id"] for row in outbox.due_deliveries(db, out_of_order=True)] == [second, first]
    assert [row["id"] for row in outbox.due_deliveries(db)] == [first, second]


def test_revocation_returns_the_redirect_query(db: Database) -> None:
    client_id, (kept, withdrawn) = outbox.create_client_with_channels(
        db, name="Two", numbers=["+49 1", "+49 2"], partner_payload=None, running_after=0
    )
    query = outbox.revoke_permission(db, withdrawn)
    redirect = parse_redirect(query)
    assert (redirect.client, redirect.channels, redirect.revoked) == (client_id, (kept,), (withdrawn,))
    with pytest.raises(state.NotFound):
        outbox.revoke_permission(db, "missingCH")


def test_never_running_schedules_no_running_transition(db: Database) -> None:
    outbox.create_client_with_channels(
        db, name="Stuck", numbers=["+49 3"], partner_payload=None, running_after=0, never_running=True
    )
    assert [row["event"] for row in db["outbox"].rows] == ["channel_created"]


def test_reset_forgets_everything(db: Database) -> None:
    seed_sandbox(db, seed=1)
    state.issue_key(db, next(db["channels"].rows)["id"])
    state.set_switches(db, {"send_twice": True})
    state.reset(db)
    for table in ("clients", "channels", "keys", "outbox", "switches"):
        assert db[table].count == 0


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


@pytest.mark.parametrize("seed", range(20))
def test_any_seed_tells_the_whole_story(seed: int) -> None:
    db = state.open_sandbox_db(":memory:")
    scenario = seed_sandbox(db, seed=seed)
    db.close()
    assert all(count > 0 for count in scenario["by_status"].values())
    assert scenario["downgraded"] > 0
    assert scenario["stuck"] > 0
    assert scenario["revoked"] > 0
    assert len(scenario["key_channel_ids"]) == 30
