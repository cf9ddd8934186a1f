"""The sandbox hub's seeded scenario: every stage, keys, downgrades, stuck and revoked channels, each
channel's history queued in order, redirects that parse, and the same shape for the same seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from services.onboarding.redirect_params import parse_redirect
from services.sandbox import state
from services.sandbox.scenario import CHANNEL_COUNT, CLIENT_COUNT, STUCK_AFTER_DAYS, STUCK_PER_STAGE, seed_sandbox


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


# The stage each channel event tells; 360dialog names some stages two ways, and the hub uses both.
STAGE_OF = {
    "channel_created": "pending",
    "channel_submitted": "submitted",
    "channel_ready": "ready",
    "channel_live": "ready",
    "channel_status_running": "running",
    "channel_running": "running",
}


def test_seed_queues_each_channels_history_in_order(sandbox_db: Database) -> None:
    scenario = seed_sandbox(sandbox_db, seed=4)
    assert sandbox_db["outbox"].count == scenario["events"]
    rows = list(sandbox_db["outbox"].rows_where(order_by="id"))
    seen: dict[str, list[str]] = {}
    for row in rows:
        if row["event"] in STAGE_OF:
            seen.setdefault(row["channel_id"], []).append(STAGE_OF[row["event"]])
    assert len(seen) == CHANNEL_COUNT
    for channel_id, stages in seen.items():
        status = sandbox_db["channels"].get(channel_id)["status"]
        told = [stage for index, stage in enumerate(stages) if not index or stages[index - 1] != stage]
        assert told == list(state.CHANNEL_STAGES[: state.CHANNEL_STAGES.index(status) + 1])
    names = Counter(row["event"] for row in rows)
    assert names["client_created"] == CLIENT_COUNT
    assert all(names[name] for name in STAGE_OF)
    assert (names["account_violation"], names["account_restriction"], names["waba_template_status_changed"]) == (
        3,
        1,
        6,
    )
    # Each account event names a number, never a channel id.
    for row in rows:
        if row["event"].startswith("account_"):
            assert set(json.loads(row["body"])["data"]) == {"phone_number", "violation_type"}


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


@pytest.mark.parametrize("seed", range(5))
def test_stuck_channels_changed_days_ago_and_the_rest_of_the_unfinished_within_the_hour(
    sandbox_db: Database, seed: int
) -> None:
    # A channel's modified_at is when it last changed: for a stuck one, days ago, so that the console, which dates
    # a status from it, shows it as stuck at once; one in progress started within the hour.
    now = datetime.now(UTC)
    scenario = seed_sandbox(sandbox_db, seed=seed, now=now)
    stuck_by_stage: Counter[str] = Counter()
    for row in sandbox_db["channels"].rows:
        modified, created = datetime.fromisoformat(row["modified_at"]), datetime.fromisoformat(row["created_at"])
        assert created <= modified <= now, row
        if row["status"] == "running":
            continue
        if modified < now - timedelta(days=STUCK_AFTER_DAYS):
            stuck_by_stage[row["status"]] += 1
        else:
            assert modified > now - timedelta(minutes=60), row
    assert sum(stuck_by_stage.values()) == scenario["stuck"]
    assert all(stuck_by_stage[stage] >= STUCK_PER_STAGE for stage in ("pending", "submitted", "ready"))


def test_a_quality_change_carries_the_time_it_happened(sandbox_db: Database) -> None:
    now = datetime.now(UTC)
    seed_sandbox(sandbox_db, seed=6, now=now)
    rows = [
        json.loads(row["body"]) for row in sandbox_db["outbox"].rows_where("event = 'phone_number_quality_changed'")
    ]
    assert rows
    by_channel: dict[str, list[str]] = {}
    for body in rows:
        by_channel.setdefault(body["data"]["id"], []).append(body["data"]["modified_at"])
    for channel_id, times in by_channel.items():
        first, drop = times
        assert first < drop == sandbox_db["channels"].get(channel_id)["modified_at"]
        assert datetime.fromisoformat(drop) < now


@pytest.mark.parametrize("seed", [3, 11])
def test_the_seed_plays_what_changes_after_day_one(sandbox_db: Database, seed: int) -> None:
    scenario = seed_sandbox(sandbox_db, seed=seed)
    bodies = [json.loads(row["body"]) for row in sandbox_db["outbox"].rows_where(order_by="id")]
    # A rejected template, on a WABA some channel belongs to.
    rejected = [
        body
        for body in bodies
        if body["event"] == "waba_template_status_changed" and body["data"]["template"]["status"] == "rejected"
    ]
    assert rejected
    assert sandbox_db["channels"].count_where("client_id || 'WA' = ?", [rejected[0]["data"]["id"]])
    # One cancelled number, its channel object carrying terminated_at.
    assert scenario["cancelled"] == sandbox_db["channels"].count_where("terminated_at is not null") == 1
    # One business portfolio whose limit Meta raised, then lowered, written as numbers, on every one of its numbers.
    numeric = [
        body["data"]
        for body in bodies
        if body["event"] == "phone_number_quality_changed" and body["data"]["current_limit"].isdigit()
    ]
    portfolio = {data["waba_account"]["business_id"] for data in numeric}
    assert len(portfolio) == 1
    [client_id] = {data["client_id"] for data in numeric}
    numbers = [row["id"] for row in sandbox_db["channels"].rows_where("client_id = ?", [client_id])]
    assert scenario["portfolio_limit"] == len(numbers) >= 1
    assert [data["current_limit"] for data in numeric] == ["10000"] * len(numbers) + ["2000"] * len(numbers)
    assert {row["current_limit"] for row in sandbox_db["channels"].rows_where("client_id = ?", [client_id])} == {"2000"}
    # One keyed channel whose client will regenerate its key once the console holds one.
    [regenerated] = scenario["regenerated_key_channel_ids"]
    assert regenerated in scenario["key_channel_ids"]


def test_channel_running_is_the_main_running_event_and_the_other_name_a_variant(sandbox_db: Database) -> None:
    seed_sandbox(sandbox_db, seed=4)
    told: dict[str, set[str]] = {}
    for row in sandbox_db["outbox"].rows_where("event in ('channel_running', 'channel_status_running')"):
        told.setdefault(row["channel_id"], set()).add(row["event"])
    names = Counter(name for events in told.values() for name in events)
    assert names["channel_running"] > 2 * names["channel_status_running"] > 0
    # A few channels hear only the Connect Button page's name: the console must reach running from either.
    assert any(events == {"channel_status_running"} for events in told.values())
    assert len(told) == sandbox_db["channels"].count_where("status = 'running'")
