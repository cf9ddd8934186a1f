"""The sandbox hub's seeded scenario: every stage, keys, downgrades, stuck and revoked channels, each
channel's history queued in order, redirects that parse, and the same shape for the same seed."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlite_utils import Database

from services.onboarding.redirect import parse_redirect
from services.sandbox import state
from services.sandbox.scenario import CHANNEL_COUNT, CLIENT_COUNT, seed_sandbox


def test_seed_covers_every_stage_with_keys_downgrades_stuck_and_revoked(sandbox_db: Database) -> None:
    scenario = seed_sandbox(sandbox_db, seed=3)
    assert scenario["clients"] == sandbox_db["clients"].count == CLIENT_COUNT
    assert scenario["channels"] == sandbox_db["channels"].count == CHANNEL_COUNT
    statuses = Counter(row["status"] for row in sandbox_db["channels"].rows)
    assert statuses == Counter(scenario["by_status"])
    assert set(statuses) == set(state.CHANNEL_STAGES)
    assert scenario["downgraded"] == sandbox_db["channels"].count_where("current_quality_rating != 'GREEN'") > 0
    assert scenario["revoked"] == sandbox_db["channels"].count_where("permission_granted = 0") > 0
    assert scenario["stuck"] > 0
    assert len(scenario["key_channel_ids"]) == 30
    for channel_id in scenario["key_channel_ids"]:
        row = sandbox_db["channels"].get(channel_id)
        assert (row["status"], row["permission_granted"]) == ("running", 1)
    assert len({row["phone_number"] for row in sandbox_db["channels"].rows}) == CHANNEL_COUNT


def test_seed_queues_each_channels_history_in_order(sandbox_db: Database) -> None:
    scenario = seed_sandbox(sandbox_db, seed=4)
    assert sandbox_db["outbox"].count == scenario["events"]
    events = [json.loads(row["body"]) for row in sandbox_db["outbox"].rows_where(order_by="id")]
    seen: dict[str, list[str]] = {}
    for event in events:
        if event["event"] != "client_created":
            seen.setdefault(event["data"]["id"], []).append(event["event"])
    assert len(seen) == CHANNEL_COUNT
    for channel_id, names in seen.items():
        status = sandbox_db["channels"].get(channel_id)["status"]
        stages = [state.STAGE_EVENTS[s] for s in state.CHANNEL_STAGES[: state.CHANNEL_STAGES.index(status) + 1]]
        assert [name for name in names if name != "phone_number_quality_changed"] == stages
    assert Counter(event["event"] for event in events)["client_created"] == CLIENT_COUNT


def test_seed_redirects_parse_and_name_the_revoked_channels(sandbox_db: Database) -> None:
    scenario = seed_sandbox(sandbox_db, seed=5)
    revoked = set()
    for query in scenario["redirects"]:
        redirect = parse_redirect(query)
        revoked.update(redirect.revoked)
        assert sandbox_db["clients"].get(redirect.client)
    assert revoked == {row["id"] for row in sandbox_db["channels"].rows_where("permission_granted = 0")}


def test_the_same_seed_gives_the_same_shape(sandbox_db: Database) -> None:
    first = seed_sandbox(sandbox_db, seed=9)
    other = state.open_sandbox_db(":memory:")
    second = seed_sandbox(other, seed=9)
    other.close()
    assert first["by_status"] == second["by_status"]
    assert first["events"] == second["events"]


@pytest.mark.parametrize("seed", range(20))
def test_any_seed_tells_the_whole_story(sandbox_db: Database, seed: int) -> None:
    scenario = seed_sandbox(sandbox_db, seed=seed)
    assert all(count > 0 for count in scenario["by_status"].values())
    assert scenario["downgraded"] > 0
    assert scenario["stuck"] > 0
    assert scenario["revoked"] > 0
    assert len(scenario["key_channel_ids"]) == 30
