"""Storing events as incoming in batches, then listing them in other batches, ends in the same events,
channels and clients as storing them one by one."""

from __future__ import annotations

import json
import random

import pytest

from services.channels.event_listing import list_incoming
from services.events.incoming import incoming_count, store_incoming
from services.events.store import EventFilter, page_events
from services.events.webhook import normalise_event
from tests.support.console import console_db
from tests.support.events import save_event

RECEIVED_AT = "2026-11-20T10:00:00.000000+00:00"
# Timestamps are taken when each row is written, so only whether they are set is compared.
TIME_COLUMNS = ("updated_at", "status_changed_at", "quality_changed_at", "first_seen_at")
EVENT_SHAPES = (
    ("channel_created", {}),
    ("channel_created", {"status": "submitted"}),
    ("channel_running", {}),
    ("channel_status_changed", {"status": "ready"}),
    ("channel_status_changed", {"status": "pending"}),
    ("channel_status_changed", {"status": "an_unknown_stage"}),
    ("phone_number_quality_changed", {"current_quality_rating": "GREEN", "current_limit": "TIER_1K"}),
    ("phone_number_quality_changed", {"current_quality_rating": "YELLOW", "current_limit": "TIER_1K"}),
    ("phone_number_quality_changed", {"current_quality_rating": "GREEN", "current_limit": "TIER_10K"}),
    ("client_created", {}),
    ("account_violation", {"violation_type": "SCAM"}),
)


def _random_bodies(rng: random.Random, count: int) -> list[dict]:
    bodies = []
    for number in range(count):
        name, data = rng.choice(EVENT_SHAPES)
        body = {"event": name, "data": dict(data)}
        if rng.random() < 0.8:
            body["data"]["id"] = rng.choice(["aCH", "bCH", "cCH", "dCH"])
        if rng.random() < 0.7:
            body["data"]["client_id"] = rng.choice(["aCL", "bCL", "ünï\u2028CL"])
        if rng.random() < 0.2:
            body["data"]["phone_number"] = rng.choice(["+49 1", '+49 "2"\\'])
        # Some events repeat an earlier id (a redelivery), some carry none (deduplicated by their hash).
        roll = rng.random()
        if roll < 0.15 and number:
            body["id"] = f"ev{rng.randrange(number)}"
        elif roll < 0.9:
            body["id"] = f"ev{number}"
        bodies.append(body)
    return bodies


def _table(db, name: str) -> list[dict]:
    rows = list(db.query(f"select * from {name} order by rowid"))
    for row in rows:
        for column in TIME_COLUMNS:
            if column in row:
                row[column] = row[column] is not None
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_ends_where_one_by_one_ends(tmp_path, seed: int) -> None:
    rng = random.Random(seed)
    events = [normalise_event(body) for body in _random_bodies(rng, 120)]
    with console_db(tmp_path / "one.db") as one_by_one, console_db(tmp_path / "batch.db") as batched:
        with one_by_one.atomic():
            expected_new = [
                save_event(one_by_one, event, headers={"user-agent": "hub"}, verdict="valid", received_at=RECEIVED_AT)
                for event in events
            ]
        is_new = []
        start = 0
        while start < len(events):
            size = rng.randint(1, 40)
            with batched.atomic():
                items = [(event, json.dumps({"user-agent": "hub"}), "valid") for event in events[start : start + size]]
                is_new += store_incoming(batched, items, received_at=RECEIVED_AT)
            start += size
            if rng.random() < 0.5:  # listing lags behind storing, by a varying amount
                with batched.atomic():
                    list_incoming(batched, rng.randint(1, 60))
        while incoming_count(batched):
            with batched.atomic():
                list_incoming(batched, rng.randint(1, 60))
        assert is_new == expected_new
        assert any(is_new)
        assert not all(is_new)
        for table in ("events", "channels", "clients", "channel_stages", "event_hours"):
            assert _table(batched, table) == _table(one_by_one, table), table
        for word in ("channel_created", "an_unknown_stage", "ev7", "491"):
            assert _searched(batched, word) == _searched(one_by_one, word), word


def _searched(db, text: str) -> list[int]:
    return [row["id"] for row in page_events(db, EventFilter(search=text), limit=200)]


def test_an_event_is_searchable_once_listed_and_not_in_the_acknowledging_transaction(db) -> None:
    event = normalise_event({"id": "ev1", "event": "account_violation", "data": {"phone_number": "+31 6 3439217"}})
    with db.atomic():
        store_incoming(db, [(event, "{}", "valid")], received_at=RECEIVED_AT)
    assert db.execute("select count(*) from events_fts_docsize").fetchone()[0] == 0
    with db.atomic():
        list_incoming(db, 10)
    assert _searched(db, "3163439217") == [1]
    assert _searched(db, "account_violation") == [1]


def test_an_empty_batch_writes_nothing(db) -> None:
    with db.atomic():
        assert store_incoming(db, [], received_at=RECEIVED_AT) == []
        assert list_incoming(db, 10) == 0
    assert db["events"].count == 0
    assert incoming_count(db) == 0
