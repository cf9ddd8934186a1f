"""Names travel the receiver's own path: acknowledged into incoming_events, then listed and projected."""

from __future__ import annotations

import json

from services.channels.event_listing import list_incoming
from services.channels.projection import get_channel
from services.events.incoming import store_incoming
from services.events.webhook import parse_webhook_body
from tests.support import FIXTURES

RECORDED = json.loads((FIXTURES / "360dialog" / "partner_webhooks.json").read_text())


def test_a_channel_object_names_the_number_and_the_business_once_listed(db) -> None:
    created = next(item for item in RECORDED if item["body"]["event"] == "channel_created")
    [event] = parse_webhook_body(json.dumps(created["body"]).encode())
    with db.atomic():
        store_incoming(db, [(event, "{}", "valid")], received_at="2026-11-30T10:00:00+00:00")
    assert get_channel(db, event.channel_id) is None  # not in the transaction a 2xx waits for
    with db.atomic():
        assert list_incoming(db, 10) == 1
    assert get_channel(db, event.channel_id)["phone_name"] == created["body"]["data"]["phone_name"]
    assert db["clients"].get(event.client_id)["name"] == "Recorded Shop"


def test_a_number_in_bare_digits_keeps_the_spelling_people_know(db) -> None:
    bodies = [
        {"event": "channel_created", "data": {"id": "spCH", "setup_info": {"phone_number": "+49 151 2345678"}}},
        {"event": "channel_live", "data": {"id": "spCH", "status": "ready", "phone_number": "491512345678"}},
        {"event": "channel_running", "data": {"id": "spCH", "phone_number": "+49 151 9999999"}},
    ]
    seen = []
    for number, body in enumerate(bodies):
        [event] = parse_webhook_body(json.dumps(body).encode())
        with db.atomic():
            store_incoming(db, [(event, "{}", "valid")], received_at=f"2026-11-30T10:00:0{number}+00:00")
            list_incoming(db, 10)
        seen.append(get_channel(db, "spCH")["phone_number"])
    # Bare digits of the same number change nothing; a different number is written as it came.
    assert seen == ["+49 151 2345678", "+49 151 2345678", "+49 151 9999999"]
