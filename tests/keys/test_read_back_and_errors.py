"""The webhook read-back as 360dialog's reference allows it (contract section 6): the POST's echo confirms, and an
address that does not offer the undocumented GET is "not verifiable", never a failure. And Messaging API errors
keep their reason, in every shape recorded, wherever they are shown; never with the key."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
import responses
from cryptography.fernet import Fernet

from services.alerts.rules import find_failed_key_steps
from services.channels.projection import upsert_channel
from services.keys.generation import generate_key
from services.keys.readiness import (
    ReadinessConfig,
    first_unfinished_step,
    key_readiness,
    prepare_key,
    unprepared_channel_ids,
)
from services.keys.vault import KeyVault
from services.messaging_api import MessagingApi, MessagingApiError
from services.read_models.work_queue import key_not_ready
from services.settings import AlertSettings
from tests.support import FIXTURES
from tests.support.people import person
from tests.support.sandbox_hub import start_hub
from tests.support.servers import wait_for

ERRORS = json.loads((FIXTURES / "360dialog" / "error_answers.json").read_text())["messaging_api_errors"]
ADDRESS = "https://waba-v2.360dialog.io"
KEY = "Zq7readBackKeyUnderTest12345"
TEMPLATE = "https://hooks.example.org/whatsapp/{channel_id}"
CONFIG = ReadinessConfig(TEMPLATE, {}, timeout=2)
HEALTHY = {"health_status": {"can_send_message": "AVAILABLE", "entities": []}}
NOT_VERIFIABLE = "not_verifiable"


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault(Fernet.generate_key().decode())


def _statuses(db, channel_id: str) -> dict[str, str]:
    return {state.step: state.status for state in key_readiness(db, channel_id)}


def _stored_key(db, vault: KeyVault, channel_id: str = "chR1") -> None:
    with db.atomic():
        upsert_channel(db, channel_id, {"status": "running", "client_id": "cliR"}, source="test")
        db["api_keys"].insert(
            {
                "channel_id": channel_id,
                "operator": "ana",
                "created_at": "2026-11-30T10:00:00",
                "outcome": "ok",
                "status": "active",
                "address": ADDRESS,
                "key_encrypted": vault.seal(KEY),
                "key_last4": KEY[-4:],
            }
        )


@pytest.mark.processes
def test_a_hub_without_the_webhook_read_leaves_the_key_ready_and_not_verifiable(tmp_path, db, vault) -> None:
    """Against the sandbox hub over HTTP, with its undocumented read answering 404."""
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        hub.sandbox.set_switches(webhook_read_missing=True)
        channel_id = hub.sandbox.onboard("Unread Cafe", ["+49 151 7650001"])["channel_ids"][0]
        api = hub.api()
        stack.callback(api.close)
        wait_for(lambda: api.list_channels(filters={"id": channel_id})["partner_channels"][0]["status"] == "running")
        with db.atomic():
            upsert_channel(db, channel_id, {"status": "running", "phone_number": "+49 151 7650001"}, source="test")
        generate_key(db, api, vault, channel_id, actor=person("ana"))
        config = ReadinessConfig(TEMPLATE, {}, demo_mode=True)

        states = prepare_key(db, vault, channel_id, config, actor=person("ana"))

    assert [(state.step, state.status) for state in states] == [
        ("check_key", "ok"),
        ("set_webhook", "ok"),
        ("read_back", NOT_VERIFIABLE),
    ]
    assert states[2].detail.startswith("not verifiable: this address offers no webhook read (404)")
    assert first_unfinished_step(states) is None
    assert unprepared_channel_ids(db) == []
    assert key_not_ready(db) == []
    assert find_failed_key_steps(db, AlertSettings(), datetime.now(UTC)).findings == []


@responses.activate
@pytest.mark.parametrize("status", [404, 405])
def test_a_read_not_offered_is_not_verifiable(db, vault, status) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json=HEALTHY)
    responses.post(f"{ADDRESS}/v1/configs/webhook", json={"url": TEMPLATE.format(channel_id="chR1")})
    responses.get(f"{ADDRESS}/v1/configs/webhook", json={"error": "Not Found"}, status=status)
    prepare_key(db, vault, "chR1", CONFIG, actor=person("ana"))
    assert _statuses(db, "chR1") == {"check_key": "ok", "set_webhook": "ok", "read_back": NOT_VERIFIABLE}
    assert unprepared_channel_ids(db) == []


@responses.activate
def test_a_read_that_fails_otherwise_still_fails(db, vault) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json=HEALTHY)
    responses.post(f"{ADDRESS}/v1/configs/webhook", json={"url": TEMPLATE.format(channel_id="chR1")})
    responses.get(f"{ADDRESS}/v1/configs/webhook", json={"url": "https://elsewhere.example.org/x"})
    prepare_key(db, vault, "chR1", CONFIG, actor=person("ana"))
    assert _statuses(db, "chR1")["read_back"] == "failed"
    assert unprepared_channel_ids(db) == ["chR1"]


@responses.activate
@pytest.mark.parametrize("recorded", ERRORS, ids=lambda recorded: recorded["name"])
def test_each_recorded_error_body_gives_its_reason(recorded) -> None:
    responses.get(f"{ADDRESS}/health_status", json=recorded["body"], status=recorded["status"])
    with MessagingApi(ADDRESS, KEY) as api, pytest.raises(MessagingApiError) as raised:
        api.health_status()
    assert raised.value.message.endswith(f"({recorded['status']}): {recorded['expect']}")


@responses.activate
@pytest.mark.parametrize("recorded", ERRORS, ids=lambda recorded: recorded["name"])
def test_a_failed_step_shows_the_reason_in_its_detail_and_its_alert(db, vault, recorded) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json=recorded["body"], status=recorded["status"])
    [checked, *_] = prepare_key(db, vault, "chR1", CONFIG, actor=person("ana"))
    assert checked.status == "failed"
    assert f"({recorded['status']}): {recorded['expect']}" in checked.detail
    [finding] = find_failed_key_steps(db, AlertSettings(), datetime.now(UTC)).findings
    assert recorded["expect"] in finding.detail
    audited = [row["detail"] for row in db.query("select detail from audit where action = 'check_key'")]
    assert recorded["expect"] in audited[0]


@responses.activate
def test_an_error_that_echoes_the_key_never_shows_it(db, vault) -> None:
    responses.post(f"{ADDRESS}/v1/configs/webhook", json={"error": f"Key {KEY} may not set webhooks"}, status=400)
    with MessagingApi(ADDRESS, KEY) as api, pytest.raises(MessagingApiError) as raised:
        api.set_webhook("https://hooks.example.org/x")
    assert KEY not in raised.value.message
    assert raised.value.message == "The Messaging API refused the request (400): Key [key hidden] may not set webhooks"
