"""The sandbox hub sends what production sends.

Every body the hub makes has the key structure of a shape recorded for the same event name
(tests/fixtures/360dialog/partner_webhooks.json), so the demo cannot drift from them; and the console, reading
what the hub tells through the receiver's path, ends with each channel where the hub has it and no channel
360dialog does not have.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from sqlite_utils import Database

from services.channels.account_alerts import NO_CHANNEL_NOTE, alert_notes
from services.channels.event_listing import list_incoming
from services.events.incoming import store_incoming
from services.events.store import EventFilter, page_events
from services.events.webhook import parse_webhook_body
from services.read_models.work_queue import needs_attention, quality_drop
from services.sandbox import outbox
from services.sandbox.scenario import CHANNEL_COUNT, PORTFOLIO_LIMIT_STEPS, UNKNOWN_NUMBER, seed_sandbox
from services.whatsapp import phone_digits
from tests.support import FIXTURES

RECORDED = json.loads((FIXTURES / "360dialog" / "partner_webhooks.json").read_text())
# The names 360dialog's own Connect Button page uses, and the others its pages and integrations record.
CONNECT_BUTTON_NAMES = {"channel_created", "channel_status_running", "phone_number_quality_changed"}
OTHER_NAMES = {
    "client_created",
    "channel_submitted",
    "channel_ready",
    "channel_live",
    "channel_running",
    "waba_template_status_changed",
    "account_violation",
    "account_restriction",
    "cancellation_request",
    "cancellation_revoke",
    "cancellation_processed",
}


def structure(value: Any) -> Any:
    """The keys of a JSON value, nested, without its values (a list by its first item)."""
    if isinstance(value, dict):
        return {key: structure(item) for key, item in value.items()}
    if isinstance(value, list):
        return [structure(item) for item in value[:1]]
    return None


SHAPES: dict[str, list[Any]] = defaultdict(list)
for _recorded in RECORDED:
    SHAPES[_recorded["body"]["event"]].append(structure(_recorded["body"]))


def _bodies(db: Database) -> list[str]:
    return [row["body"] for row in db["outbox"].rows_where(order_by="id")]


def _everything_the_hub_sends(db: Database) -> list[dict[str, Any]]:
    """An onboarding, a stuck one, every demo trigger, and the seeded scenario's history."""
    outbox.create_client_with_channels(
        db, name="Two", numbers=["+49 151 1", "+49 151 2"], partner_payload="crm-1", running_after=0
    )
    outbox.create_client_with_channels(
        db, name="Stuck", numbers=["+49 151 3"], partner_payload=None, running_after=0, never_running=True
    )
    client_id, [channel_id] = outbox.create_client_with_channels(
        db, name="Story", numbers=["+44 7700 4"], partner_payload=None, running_after=0
    )
    outbox.change_quality(db, channel_id, quality="RED", limit="TIER_50")
    outbox.account_alert(db, channel_id, "account_violation")
    outbox.account_alert(db, channel_id, "account_restriction")
    outbox.template_status_change(db, channel_id, "approved")
    for step in ("request", "revoke", "request", "process"):
        outbox.cancellation(db, channel_id, step)
    outbox.change_portfolio_limit(db, client_id, "2000")
    seed_sandbox(db, seed=1)
    return [json.loads(body) for body in _bodies(db)]  # fmt: skip


def test_structure_tells_a_drifted_body_from_a_recorded_one() -> None:
    recorded = {"id": "e", "event": "x", "data": {"id": "a", "setup_info": {"phone_number": "1"}}}
    assert structure({**recorded, "id": "other"}) == structure(recorded)
    assert structure({"event": "x", "data": recorded["data"]}) != structure(recorded)
    assert structure({**recorded, "data": {"id": "a", "phone_number": "1"}}) != structure(recorded)


def test_every_body_the_hub_sends_has_a_recorded_shape_of_its_name(sandbox_db: Database) -> None:
    bodies = _everything_the_hub_sends(sandbox_db)
    for body in bodies:
        name = body["event"]
        assert structure(body) in SHAPES[name], f"{name} sent as {structure(body)}, recorded as {SHAPES[name]}"
    assert {body["event"] for body in bodies} == CONNECT_BUTTON_NAMES | OTHER_NAMES


def _through_the_receiver(db: Database, bodies: list[str]) -> None:
    """As the receiver stores each delivery and its writer lists them."""
    with db.atomic():
        for body in bodies:
            store_incoming(
                db,
                [(event, "{}", "valid") for event in parse_webhook_body(body.encode())],
                received_at="2026-11-30T10:00",
            )
        list_incoming(db, len(bodies))


@pytest.mark.parametrize("order", ["as sent", "out of order"])
def test_an_onboarding_the_hub_tells_ends_running_with_no_phantom_channel(sandbox_db, db, order: str) -> None:
    client_id, channel_ids = outbox.create_client_with_channels(
        sandbox_db,
        name="Read Me",
        numbers=["+49 151 1112223", "+49 160 4445556"],
        partner_payload=None,
        running_after=0,
    )
    outbox.template_status_change(sandbox_db, channel_ids[0], "approved")
    outbox.account_alert(sandbox_db, channel_ids[1], "account_restriction")
    bodies = _bodies(sandbox_db)
    _through_the_receiver(db, bodies if order == "as sent" else bodies[::-1])

    assert db["events"].count == len(bodies)
    channels = {row["id"]: row for row in db["channels"].rows}
    assert set(channels) == set(channel_ids)
    for channel_id, row in channels.items():
        hub_row = sandbox_db["channels"].get(channel_id)
        assert (row["status"], row["client_id"]) == ("running", client_id)
        assert row["phone_digits"] == phone_digits(hub_row["phone_number"])
    assert [row["id"] for row in db["clients"].rows] == [client_id]
    alerts = [item for item in needs_attention(db, stuck_after_minutes=60) if item.reason == "account restriction"]
    assert [(item.channel_id, item.detail) for item in alerts] == [(channel_ids[1], "violation type SCAM")]


def test_the_seeded_scenario_reads_as_the_hub_has_it(sandbox_db, db) -> None:
    seed_sandbox(sandbox_db, seed=7)
    _through_the_receiver(db, _bodies(sandbox_db))

    hub = {row["id"]: row for row in sandbox_db["channels"].rows}
    console = {row["id"]: row for row in db["channels"].rows}
    assert len(console) == CHANNEL_COUNT
    assert {channel_id: row["status"] for channel_id, row in console.items()} == {
        channel_id: row["status"] for channel_id, row in hub.items()
    }
    # Downgraded: the numbers whose quality fell, and the numbers of the portfolio whose limit Meta lowered.
    downgraded = {
        channel_id
        for channel_id, row in hub.items()
        if row["current_quality_rating"] != "GREEN" or row["current_limit"] == PORTFOLIO_LIMIT_STEPS[-1]
    }
    assert {channel_id for channel_id, row in console.items() if quality_drop(row)} == downgraded
    reasons = [item.reason for item in needs_attention(db, stuck_after_minutes=60 * 24 * 365)]
    assert (reasons.count("account violation"), reasons.count("account restriction")) == (2, 1)
    notes = alert_notes(db, page_events(db, EventFilter(event_type="account_violation")))
    assert list(notes.values()).count(NO_CHANNEL_NOTE) == 1
    assert phone_digits(UNKNOWN_NUMBER) not in {row["phone_digits"] for row in console.values()}
