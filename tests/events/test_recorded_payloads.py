"""360dialog's partner webhooks in their recorded shapes, through the reader and the channel projection.

The fixtures (tests/fixtures/360dialog/partner_webhooks.json) say where each shape comes from.
"""

from __future__ import annotations

import json

import pytest

from services.channels.projection import get_channel, upsert_channel
from services.events.store import save_events
from services.events.webhook import normalise_event, parse_webhook_body
from tests.support import FIXTURES

RECORDED = json.loads((FIXTURES / "360dialog" / "partner_webhooks.json").read_text())


@pytest.mark.parametrize("recorded", RECORDED, ids=[item["name"] for item in RECORDED])
def test_the_reader_takes_what_the_payload_says(recorded: dict) -> None:
    event = normalise_event(recorded["body"])
    for field, expected in recorded["expect"].items():
        if not field.startswith("touches_"):
            assert getattr(event, field) == expected, field


@pytest.mark.parametrize("recorded", RECORDED, ids=[item["name"] for item in RECORDED])
def test_only_channel_events_touch_channel_and_client_rows(db, recorded: dict) -> None:
    # The old behaviour: a template event made a phantom channel under its WABA id.
    with db.atomic():
        save_events(db, parse_webhook_body(json.dumps(recorded["body"]).encode()), headers={}, verdict="valid")
    assert db["events"].count == 1
    assert (db["channels"].count == 1) == recorded["expect"]["touches_channel"]
    assert db["clients"].count == int(recorded["expect"].get("touches_client", False))


def test_a_channel_live_that_says_ready_is_not_taken_for_running(db) -> None:
    # The old behaviour: stored as running, so a key was offered that 360dialog refuses.
    live = next(item for item in RECORDED if item["body"]["event"] == "channel_live")
    with db.atomic():
        save_events(db, parse_webhook_body(json.dumps(live["body"]).encode()), headers={}, verdict="valid")
    assert get_channel(db, "tlbN64CH")["status"] == "ready"


def test_an_array_of_recorded_events_is_read_event_by_event(db) -> None:
    body = json.dumps([item["body"] for item in RECORDED]).encode()
    events = parse_webhook_body(body)
    assert [event.event_type for event in events] == [item["body"]["event"] for item in RECORDED]


def test_an_account_violation_leaves_the_channel_with_that_number_as_it_was(db) -> None:
    upsert_channel(db, "tlbN64CH", {"status": "running", "phone_number": "15553785635"}, source="partner_api")
    before = get_channel(db, "tlbN64CH")
    violation = next(item for item in RECORDED if item["body"]["event"] == "account_violation")
    with db.atomic():
        save_events(db, parse_webhook_body(json.dumps(violation["body"]).encode()), headers={}, verdict="valid")
    assert get_channel(db, "tlbN64CH") == before
