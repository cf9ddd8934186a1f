"""360dialog's partner webhooks in their recorded shapes, through the reader and the channel projection.

The fixtures (tests/fixtures/360dialog/partner_webhooks.json) say where each shape comes from.
"""

from __future__ import annotations

import json

import pytest

from services.channels.projection import get_channel, upsert_channel
from services.events.webhook import normalise_event, parse_webhook_body
from tests.support import FIXTURES
from tests.support.events import save_events

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


@pytest.mark.parametrize(
    ("name", "phone_name", "client_name"),
    [
        ("channel_live carrying status ready", "Recorded Shop", None),
        ("channel_status_running as the Connect Button page names it", "Nested Shop", None),
        ("channel_created with the fields 360dialog's event page names", "Recorded Shop", "Recorded Shop"),
        ("client_created with the client", None, "Recorded Shop"),
    ],
)
def test_names_come_with_the_events_that_carry_them(db, name: str, phone_name, client_name) -> None:
    """The number's display name (flat or in setup_info) and the business name (the client object, or a
    client_created event's data) reach the console without waiting for a sync."""
    recorded = next(item for item in RECORDED if item["name"] == name)
    with db.atomic():
        save_events(db, parse_webhook_body(json.dumps(recorded["body"]).encode()), headers={}, verdict="valid")
    event = normalise_event(recorded["body"])
    assert (event.phone_name, event.client_name) == (phone_name, client_name)
    if phone_name:
        assert get_channel(db, event.channel_id)["phone_name"] == phone_name
    if client_name:
        assert db["clients"].get(event.client_id)["name"] == client_name


def test_a_later_event_without_names_keeps_the_ones_known(db) -> None:
    created = next(item for item in RECORDED if item["body"]["event"] == "channel_created")
    bare = {"event": "channel_running", "data": {"id": created["body"]["data"]["id"], "client_id": "oaY9LLfUCL"}}
    for body in (created["body"], bare):
        with db.atomic():
            save_events(db, parse_webhook_body(json.dumps(body).encode()), headers={}, verdict="valid")
    channel = get_channel(db, created["body"]["data"]["id"])
    assert (channel["status"], channel["phone_name"]) == ("running", "Recorded Shop")
    assert db["clients"].get("oaY9LLfUCL")["name"] == "Recorded Shop"
