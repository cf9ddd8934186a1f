"""A key made ready to use: checked, the number's webhook set and read back; against the sandbox hub on real
HTTP, and every failure with `responses`."""

from __future__ import annotations

import json
from contextlib import ExitStack

import pytest
import requests
import responses
from cryptography.fernet import Fernet

from services.channels.projection import upsert_channel
from services.keys.bulk import generate_many, prepare_many
from services.keys.generation import generate_key
from services.keys.readiness import (
    NOT_RUN,
    UNSET_WEBHOOK,
    KeyNotReady,
    ReadinessConfig,
    first_unfinished_step,
    key_readiness,
    prepare_key,
    unprepared_channel_ids,
    webhook_url_for,
)
from services.keys.vault import KeyVault
from services.read_models.work_queue import key_not_ready
from services.store import open_console_db
from tests.support import FIXTURES
from tests.support.console import console_db
from tests.support.people import person
from tests.support.sandbox_hub import start_hub
from tests.support.servers import wait_for

RECORDED = json.loads((FIXTURES / "360dialog" / "messaging_answers.json").read_text())
ADDRESS = "https://waba-v2.360dialog.io"
KEY = "Rk5readinessKeyUnderTest9876"
TEMPLATE = "https://hooks.example.org/whatsapp/{channel_id}?client={client_id}&number={phone_number}"
CONFIG = ReadinessConfig(TEMPLATE, {"X-Hook-Token": "hook-token-value"}, timeout=2)


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault(Fernet.generate_key().decode())


def _statuses(db, channel_id: str) -> dict[str, str]:
    return {state.step: state.status for state in key_readiness(db, channel_id)}


def _stored_key(db, vault: KeyVault, channel_id: str = "chA1", address: str = ADDRESS) -> None:
    """A running channel with an active key, as generation leaves it."""
    with db.atomic():
        upsert_channel(
            db, channel_id, {"status": "running", "client_id": "cliB", "phone_number": "+49 151 234"}, source="test"
        )
        db["api_keys"].insert(
            {
                "channel_id": channel_id,
                "operator": "ana",
                "created_at": "2026-11-30T10:00:00",
                "outcome": "ok",
                "status": "active",
                "address": address,
                "key_encrypted": vault.seal(KEY),
                "key_last4": KEY[-4:],
            }
        )


def test_the_template_gets_each_channels_values_encoded() -> None:
    channel = {"id": "chA1", "client_id": "cl/B", "phone_number": "+49 (151) 234"}
    assert webhook_url_for(TEMPLATE, channel) == (
        "https://hooks.example.org/whatsapp/chA1?client=cl%2FB&number=49151234"
    )


@pytest.mark.processes
def test_the_whole_chain_on_the_sandbox_hub(tmp_path, db, vault) -> None:
    """Generated through the Partner API, then checked, set and read back through the Messaging API the key
    answer pointed at: the hub holds the webhook afterwards and refuses the key once a newer one exists."""
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        channel_id = hub.sandbox.onboard("Readiness Cafe", ["+49 151 7654321"])["channel_ids"][0]
        api = hub.api()
        stack.callback(api.close)
        wait_for(lambda: api.list_channels(filters={"id": channel_id})["partner_channels"][0]["status"] == "running")
        with db.atomic():
            upsert_channel(db, channel_id, {"status": "running", "phone_number": "+49 151 7654321"}, source="test")
        key = generate_key(db, api, vault, channel_id, actor=person("ana"))
        config = ReadinessConfig(TEMPLATE, {"X-Hook-Token": "hook-token-value"}, demo_mode=True)

        states = prepare_key(db, vault, channel_id, config, actor=person("ana"))

        assert [(state.step, state.status) for state in states] == [
            ("check_key", "ok"),
            ("set_webhook", "ok"),
            ("read_back", "ok"),
        ]
        assert "phone number: AVAILABLE" in states[0].detail
        held = requests.get(f"{key.address}/v1/configs/webhook", headers={"D360-API-KEY": key.api_key}, timeout=5)
        assert held.json()["url"] == webhook_url_for(TEMPLATE, {"id": channel_id, "phone_number": "+49 151 7654321"})
        assert held.json()["headers"] == {"X-Hook-Token": "hook-token-value"}
        assert unprepared_channel_ids(db) == []

        generate_key(db, api, vault, channel_id, actor=person("ana"), replace_existing=True)
        assert _statuses(db, channel_id) == dict.fromkeys(("check_key", "set_webhook", "read_back"), NOT_RUN)
        assert unprepared_channel_ids(db) == [channel_id]
        old = requests.get(f"{key.address}/health_status", headers={"D360-API-KEY": key.api_key}, timeout=5)
        assert old.status_code == 401


@responses.activate
def test_a_refused_key_stops_the_chain_and_says_so(db, vault) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json={"meta": {"developer_message": "Invalid api key"}}, status=401)
    states = prepare_key(db, vault, "chA1", CONFIG, actor=person("ana"))
    assert _statuses(db, "chA1") == {"check_key": "failed", "set_webhook": NOT_RUN, "read_back": NOT_RUN}
    assert "refused the key" in states[0].detail
    assert len(responses.calls) == 1
    assert [item.detail for item in key_not_ready(db)] == ["key checked: failed"]


@responses.activate
def test_a_limited_number_is_flagged_but_its_webhook_is_still_set(db, vault) -> None:
    _stored_key(db, vault)
    limited = next(r for r in RECORDED["health_status"] if r["expect"]["can_send_message"] == "LIMITED")
    responses.get(f"{ADDRESS}/health_status", json=limited["body"])
    url = webhook_url_for(TEMPLATE, {"id": "chA1", "client_id": "cliB", "phone_number": "49151234"})
    responses.post(f"{ADDRESS}/v1/configs/webhook", json={"url": url})
    responses.get(f"{ADDRESS}/v1/configs/webhook", json={"url": url, "headers": {"X-Hook-Token": "x"}})
    states = prepare_key(db, vault, "chA1", CONFIG, actor=person("ana"))
    assert [state.status for state in states] == ["attention", "ok", "ok"]
    assert "payment method" in states[0].detail
    sent = json.loads(responses.calls[1].request.body)
    assert sent == {"url": url, "headers": {"X-Hook-Token": "hook-token-value"}}
    assert "hook-token-value" not in json.dumps([state.detail for state in states])


@responses.activate
def test_a_failed_webhook_step_is_retried_on_its_own(db, vault) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json=RECORDED["health_status"][0]["body"])
    responses.post(f"{ADDRESS}/v1/configs/webhook", status=503)
    prepare_key(db, vault, "chA1", CONFIG, actor=person("ana"))
    assert _statuses(db, "chA1") == {"check_key": "ok", "set_webhook": "failed", "read_back": NOT_RUN}
    assert first_unfinished_step(key_readiness(db, "chA1")) == "set_webhook"

    responses.replace(responses.POST, f"{ADDRESS}/v1/configs/webhook", json={"url": "ignored"})
    url = webhook_url_for(TEMPLATE, {"id": "chA1", "client_id": "cliB", "phone_number": "49151234"})
    responses.get(f"{ADDRESS}/v1/configs/webhook", json={"url": url})
    calls_before = len(responses.calls)
    prepare_key(db, vault, "chA1", CONFIG, actor=person("bo"), start_at="set_webhook")
    assert _statuses(db, "chA1") == {"check_key": "ok", "set_webhook": "ok", "read_back": "ok"}
    assert [call.request.method for call in responses.calls[calls_before:]] == ["POST", "GET"]
    actions = [(row["action"], row["operator"], row["outcome"]) for row in db.query("select * from audit order by id")]
    assert actions == [
        ("check_key", "ana", "ok"),
        ("set_messaging_webhook", "ana", "failed"),
        ("set_messaging_webhook", "bo", "ok"),
        ("read_back_webhook", "bo", "ok"),
    ]


@responses.activate
def test_a_webhook_that_reads_back_differently_fails(db, vault) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json=RECORDED["health_status"][0]["body"])
    responses.post(f"{ADDRESS}/v1/configs/webhook", json={})
    responses.get(f"{ADDRESS}/v1/configs/webhook", json={"url": "https://someone-else.example/hook"})
    states = prepare_key(db, vault, "chA1", CONFIG, actor=person("ana"))
    assert states[2].status == "failed"
    assert "someone-else.example" in states[2].detail


@responses.activate
def test_without_a_webhook_setting_the_steps_are_skipped_with_a_note(db, vault) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json=RECORDED["health_status"][0]["body"])
    states = prepare_key(db, vault, "chA1", ReadinessConfig(None), actor=person("ana"))
    assert [state.status for state in states] == ["ok", "skipped", "skipped"]
    assert states[1].detail == UNSET_WEBHOOK
    assert len(responses.calls) == 1
    assert unprepared_channel_ids(db) == ["chA1"]


def test_a_key_sealed_with_another_encryption_key_fails_plainly(db, vault) -> None:
    _stored_key(db, KeyVault(Fernet.generate_key().decode()))
    states = prepare_key(db, vault, "chA1", CONFIG, actor=person("ana"))
    assert states[0].status == "failed"
    assert "CONSOLE_ENCRYPTION_KEY" in states[0].detail


def test_an_insecure_address_is_refused_before_the_key_leaves(db, vault) -> None:
    _stored_key(db, vault, address="http://waba.example.com")
    with responses.RequestsMock():  # any request at all would fail this test
        states = prepare_key(db, vault, "chA1", CONFIG, actor=person("ana"))
    assert states[0].status == "failed"
    assert "not https" in states[0].detail


def test_no_active_key_means_nothing_to_prepare(db, vault) -> None:
    with pytest.raises(KeyNotReady):
        prepare_key(db, vault, "chNone", CONFIG, actor=person("ana"))


@responses.activate
def test_the_key_never_reaches_the_database_or_the_audit_in_clear(db, vault) -> None:
    _stored_key(db, vault)
    responses.get(f"{ADDRESS}/health_status", json=RECORDED["health_status"][0]["body"])
    responses.post(f"{ADDRESS}/v1/configs/webhook", status=500)
    prepare_key(db, vault, "chA1", CONFIG, actor=person("ana"))
    dump = json.dumps([list(db[table].rows) for table in ("key_steps", "audit", "api_keys")])
    assert KEY not in dump
    assert "hook-token-value" not in dump


@pytest.mark.processes
def test_bulk_generation_makes_every_new_key_ready_on_the_sandbox_hub(tmp_path, db_path, vault) -> None:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        channel_ids = hub.sandbox.onboard("Bulk Cafe", ["+49 151 1000001", "+49 151 1000002", "+49 151 1000003"])[
            "channel_ids"
        ]
        api = hub.api()
        stack.callback(api.close)
        wait_for(lambda: api.list_channels(filters={"status": "running"})["total"] == 3)
        with console_db(db_path) as db, db.atomic():
            for channel_id in channel_ids:
                upsert_channel(db, channel_id, {"status": "running"}, source="test")
        config = ReadinessConfig(TEMPLATE, demo_mode=True)

        summary = generate_many(
            lambda: open_console_db(db_path), api, vault, channel_ids, actor=person("ana"), readiness=config
        )

        assert len(summary.succeeded) == 3
        assert [outcome.ready for outcome in summary.outcomes] == [True, True, True]
        with console_db(db_path) as db:
            assert unprepared_channel_ids(db) == []
            # Run again from where each stands: every step done, so each key is checked once more.
            again = prepare_many(lambda: open_console_db(db_path), vault, channel_ids, config, actor=person("bo"))
        assert not again.not_ready
        assert {outcome.readiness[0].status for outcome in again.outcomes} == {"ok"}
