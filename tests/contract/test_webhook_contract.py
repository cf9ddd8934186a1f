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


# An onboarding as the hub tells it (services/sandbox/webhooks.py), in the shapes 360dialog records.
ONBOARDING = [
    "client_created",
    "channel_created",
    "channel_submitted",
    "channel_live",
    "channel_running",
]


def test_every_webhook_is_signed_with_the_platform_secret(make_hub) -> None:
    hub = make_hub()
    onboarded = hub.sandbox.onboard("Signed Sweets", ["+49 151 5555555"])
    wait_for(lambda: len(hub.receiver.received) >= len(ONBOARDING))
    for body, headers in hub.receiver.received:
        assert verify_signature(body, headers[SIGNATURE_HEADER], hub.settings.platform_secret) is None
        assert verify_signature(body, headers[SIGNATURE_HEADER], "another-secret-entirely") is not None
    client, created, submitted, live, running = _events(hub.receiver.bodies())
    assert [event["event"] for event in (client, created, submitted, live, running)] == ONBOARDING
    assert client["data"]["id"] == created["data"]["client_id"] == onboarded["client_id"]
    assert {event["data"]["id"] for event in (created, submitted, live, running)} == {onboarded["channel_ids"][0]}
    # The payload's status is what the stage is: live says ready; the running transition carries none.
    assert [event["data"].get("status") for event in (created, submitted, live, running)] == [
        "pending",
        "submitted",
        "ready",
        None,
    ]
    assert created["data"]["phone_number"] == "491515555555"
    # channel_running as recorded: the channel id and its account mode, no event id.
    assert "id" not in running
    assert set(running["data"]) == {"id", "account_mode"}
    assert len({event["id"] for event in (client, created, submitted, live)}) == 4


def test_a_failed_delivery_is_retried_with_backoff(make_hub) -> None:
    hub = make_hub(fail_first=2)
    hub.sandbox.onboard("Flaky Receiver", ["+49 151 6666666"], never_running=True)
    wait_for(lambda: all(entry["delivered_at"] for entry in hub.sandbox.outbox()), timeout=60)
    assert hub.receiver.answered[:2] == [503, 503]
    # Each event was refused once (client_created, then channel_created), and sent again byte for byte.
    first, second, third, fourth = hub.receiver.bodies()[:4]
    assert (first, second) == (third, fourth)
    assert [json.loads(body)["event"] for body in (first, second)] == ["client_created", "channel_created"]
    for entry in hub.sandbox.outbox():
        assert (entry["attempts"], entry["last_error"]) == (1, "receiver answered 503")


def test_send_twice_switch_delivers_each_event_twice(make_hub) -> None:
    hub = make_hub()
    assert hub.sandbox.set_switches(send_twice=True) == {
        "send_twice": True,
        "out_of_order": False,
        "webhook_read_missing": False,
    }
    hub.sandbox.onboard("Echo Echo", ["+49 151 7777777"], never_running=True)
    wait_for(lambda: len(hub.receiver.received) >= 2)
    first, second = hub.receiver.bodies()[:2]
    assert first == second
    assert json.loads(first)["event"] == "client_created"


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
    wait_for(lambda: len(hub.receiver.received) >= len(ONBOARDING))
    names = [event["event"] for event in _events(hub.receiver.bodies())]
    assert names == ONBOARDING[::-1]
    # The hub's own channel still ends running: a stage that falls due late never takes it back.
    api = hub.api()
    assert api.list_channels()["partner_channels"][0]["status"] == "running"
    api.close()


def test_resend_delivers_the_same_event_again(make_hub) -> None:
    hub = make_hub()
    hub.sandbox.onboard("Again Again", ["+49 151 9999999"], never_running=True)
    wait_for(lambda: len(hub.receiver.received) >= 2)
    original = hub.sandbox.outbox()[0]
    copy_id = hub.sandbox.resend(original["id"])
    assert copy_id != original["id"]
    wait_for(lambda: len(hub.receiver.received) >= 3)
    assert hub.receiver.bodies()[1] == hub.receiver.bodies()[2]


def test_demo_triggers_send_their_events(make_hub) -> None:
    hub = make_hub()
    channel_id = hub.sandbox.onboard("Trigger Happy", ["+49 151 1010101"], never_running=True)["channel_ids"][0]
    hub.sandbox.change_quality(channel_id, quality="RED", limit="TIER_50")
    hub.sandbox.account_violation(channel_id)
    restriction = hub.sandbox.account_alert(channel_id, "account_restriction")
    template = hub.sandbox.template_status_change(channel_id, "paused")
    wait_for(lambda: len(hub.receiver.received) >= 6)
    by_name = {event["event"]: event for event in _events(hub.receiver.bodies())}
    quality = by_name["phone_number_quality_changed"]["data"]
    assert (quality["id"], quality["current_quality_rating"], quality["current_limit"]) == (
        channel_id,
        "RED",
        "TIER_50",
    )
    # Named by the number only, as production integrations record it (tests/fixtures/360dialog).
    assert by_name["account_violation"]["data"] == {"phone_number": "491511010101", "violation_type": "SCAM"}
    assert by_name["account_restriction"]["data"] == {"phone_number": "491511010101", "violation_type": "SCAM"}
    assert restriction["phone_number"] == "491511010101"
    # A template event names the WABA behind the channel, never the channel.
    assert by_name["waba_template_status_changed"]["data"] == {
        "id": template["waba_id"],
        "template": {"name": "order_update", "language": "en", "status": "paused"},
    }
    assert template["waba_id"] != channel_id
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
