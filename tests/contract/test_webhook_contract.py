"""Partner webhooks from the sandbox hub (contract section 5): signed, retried, and the testing switches."""

from __future__ import annotations

import json
import sqlite3
from contextlib import ExitStack

import pytest

from services.events.signature import SIGNATURE_HEADER, verify_signature
from tests.support.sandbox_hub import start_hub
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes  # the sandbox hub and a receiver on uvicorn, a second or so a test


def _events(bodies: list[bytes]) -> list[dict]:
    return [json.loads(body) for body in bodies]


def test_every_webhook_is_signed_with_the_platform_secret(make_hub) -> None:
    hub = make_hub()
    onboarded = hub.sandbox.onboard("Signed Sweets", ["+49 151 5555555"])
    wait_for(lambda: len(hub.receiver.received) >= 2)
    for body, headers in hub.receiver.received:
        assert verify_signature(body, headers[SIGNATURE_HEADER], hub.settings.platform_secret) is None
        assert verify_signature(body, headers[SIGNATURE_HEADER], "another-secret-entirely") is not None
    created, running = _events(hub.receiver.bodies())[:2]
    assert (created["event"], running["event"]) == ("channel_created", "channel_status_running")
    assert created["data"]["id"] == running["data"]["id"] == onboarded["channel_ids"][0]
    assert created["data"]["client_id"] == onboarded["client_id"]
    assert (created["data"]["status"], running["data"]["status"]) == ("pending", "running")
    assert created["id"] != running["id"]


def test_a_failed_delivery_is_retried_with_backoff(make_hub) -> None:
    hub = make_hub(fail_first=2)
    hub.sandbox.onboard("Flaky Receiver", ["+49 151 6666666"], never_running=True)
    wait_for(lambda: 200 in hub.receiver.answered, timeout=60)
    assert hub.receiver.answered[:3] == [503, 503, 200]
    first, second, third = hub.receiver.bodies()[:3]
    assert first == second == third
    entry = hub.sandbox.outbox()[0]
    assert entry["attempts"] == 2
    assert entry["delivered_at"]
    assert entry["last_error"] == "receiver answered 503"


def test_send_twice_switch_delivers_each_event_twice(make_hub) -> None:
    hub = make_hub()
    assert hub.sandbox.set_switches(send_twice=True) == {"send_twice": True, "out_of_order": False}
    hub.sandbox.onboard("Echo Echo", ["+49 151 7777777"], never_running=True)
    wait_for(lambda: len(hub.receiver.received) >= 2)
    first, second = hub.receiver.bodies()[:2]
    assert first == second
    assert json.loads(first)["event"] == "channel_created"


def test_send_twice_from_settings(make_hub) -> None:
    hub = make_hub(SANDBOX_SEND_TWICE="true")
    assert hub.sandbox.switches()["send_twice"] is True
    hub.sandbox.onboard("Echo Settings", ["+49 151 7777778"], never_running=True)
    wait_for(lambda: len(hub.receiver.received) >= 2)
    assert hub.receiver.bodies()[0] == hub.receiver.bodies()[1]


def test_out_of_order_switch_sends_the_newer_event_first(make_hub) -> None:
    hub = make_hub(SANDBOX_RUNNING_DELAY_SECONDS="0")
    hub.sandbox.set_switches(out_of_order=True)
    hub.sandbox.onboard("Backwards Books", ["+49 151 8888888"])
    wait_for(lambda: len(hub.receiver.received) >= 2)
    names = [event["event"] for event in _events(hub.receiver.bodies())]
    assert names[:2] == ["channel_status_running", "channel_created"]


def test_resend_delivers_the_same_event_again(make_hub) -> None:
    hub = make_hub()
    hub.sandbox.onboard("Again Again", ["+49 151 9999999"], never_running=True)
    wait_for(lambda: len(hub.receiver.received) >= 1)
    original = hub.sandbox.outbox()[0]
    copy_id = hub.sandbox.resend(original["id"])
    assert copy_id != original["id"]
    wait_for(lambda: len(hub.receiver.received) >= 2)
    assert hub.receiver.bodies()[0] == hub.receiver.bodies()[1]


def test_demo_triggers_send_their_events(make_hub) -> None:
    hub = make_hub()
    channel_id = hub.sandbox.onboard("Trigger Happy", ["+49 151 1010101"], never_running=True)["channel_ids"][0]
    hub.sandbox.change_quality(channel_id, quality="RED", limit="TIER_50")
    hub.sandbox.account_violation(channel_id)
    wait_for(lambda: len(hub.receiver.received) >= 3)
    by_name = {event["event"]: event for event in _events(hub.receiver.bodies())}
    quality = by_name["phone_number_quality_changed"]["data"]
    assert (quality["id"], quality["current_quality_rating"], quality["current_limit"]) == (
        channel_id,
        "RED",
        "TIER_50",
    )
    # Named by the number only, as production integrations record it (tests/fixtures/360dialog).
    assert by_name["account_violation"]["data"] == {"phone_number": "491511010101", "violation_type": "SCAM"}
    api = hub.api()
    channel = api.list_channels(filters={"id": channel_id})["partner_channels"][0]
    assert (channel["current_quality_rating"], channel["current_limit"], channel["status"]) == (
        "RED",
        "TIER_50",
        "pending",
    )
    api.close()


def test_state_survives_a_restart_on_the_same_file(tmp_path) -> None:
    data_dir = tmp_path / "hub"
    with ExitStack() as stack:
        hub = start_hub(stack, data_dir)
        channel_id = hub.sandbox.onboard("Still Here", ["+49 151 2020202"])["channel_ids"][0]
        api = hub.api()
        wait_for(lambda: api.list_channels(filters={"id": channel_id})["partner_channels"][0]["status"] == "running")
        key = api.generate_api_key(channel_id)
        hub.sandbox.set_switches(send_twice=True)
        api.close()
    with sqlite3.connect(data_dir / "sandbox.db") as db:
        assert db.execute("select count(*) from channels").fetchone() == (1,)
    with ExitStack() as stack:
        again = start_hub(stack, data_dir)
        api = again.api()
        channel = api.list_channels(filters={"id": channel_id})["partner_channels"][0]
        assert channel["status"] == "running"
        assert again.sandbox.switches()["send_twice"] is True
        response = again.sandbox._session.get(
            f"{again.url}/multi_webhook", headers={"D360-API-KEY": key.api_key}, timeout=10
        )
        assert response.status_code == 200
        api.close()
