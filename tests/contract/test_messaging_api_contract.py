"""The sandbox hub's Messaging API answers in the shapes 360dialog documents, and guards it by the key."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from services.messaging_api import MessagingApi, MessagingApiError
from tests.contract.test_partner_api_contract import _running_channel
from tests.support import FIXTURES

pytestmark = pytest.mark.processes  # the Messaging API stub on uvicorn

RECORDED = json.loads((FIXTURES / "360dialog" / "messaging_answers.json").read_text())


def shape(value: Any) -> Any:
    """The keys of every object, recursively; list items merged; values reduced to their JSON type."""
    if isinstance(value, dict):
        return {name: shape(item) for name, item in value.items()}
    if isinstance(value, list):
        merged: dict = {}
        for item in value:
            merged.update(shape(item) if isinstance(item, dict) else {"": shape(item)})
        return [merged]
    return type(value).__name__


def _fields(value: Any) -> set[str]:
    """Every field path of a shape."""
    if isinstance(value, dict):
        return {f"{name}.{sub}" if sub else name for name, item in value.items() for sub in _fields(item) | {""}}
    if isinstance(value, list):
        return {f"[].{sub}" if sub else "[]" for item in value for sub in _fields(item) | {""}}
    return set()


@pytest.fixture
def keyed(make_hub):
    hub = make_hub()
    channel_id = _running_channel(hub)
    api = hub.api()
    key = api.generate_api_key(channel_id)
    api.close()
    return hub, channel_id, key


def test_health_answers_with_the_documented_fields(keyed) -> None:
    _, _, key = keyed
    answer = requests.get(f"{key.address}/health_status", headers={"D360-API-KEY": key.api_key}, timeout=10)
    assert answer.status_code == 200
    documented = _fields(shape(RECORDED["health_status"][0]["body"])) - {
        "health_status.entities.[].can_receive_call_sip"
    }
    assert documented <= _fields(shape(answer.json()))
    types = [entity["entity_type"] for entity in answer.json()["health_status"]["entities"]]
    assert types == ["PHONE_NUMBER", "WABA", "BUSINESS", "APP"]
    with MessagingApi(key.address, key.api_key, demo_mode=True) as api:
        assert api.health_status().available


def test_the_webhook_is_set_echoed_and_read_back_per_number(keyed) -> None:
    hub, _, key = keyed
    recorded = RECORDED["configs_webhook"][0]
    headers = {"D360-API-KEY": key.api_key}
    answer = requests.post(f"{key.address}/v1/configs/webhook", json=recorded["request"], headers=headers, timeout=10)
    assert answer.status_code == 200
    assert shape(answer.json()) == shape(recorded["body"])
    back = requests.get(f"{key.address}/v1/configs/webhook", headers=headers, timeout=10).json()
    assert back == recorded["request"]
    other = _running_channel(hub)
    api = hub.api()
    other_key = api.generate_api_key(other)
    api.close()
    other_back = requests.get(
        f"{key.address}/v1/configs/webhook", headers={"D360-API-KEY": other_key.api_key}, timeout=10
    )
    assert other_back.json()["url"] is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "http://hooks.example.org/x"}, "https"),
        ({"url": "https://hooks.example.org:8443/x"}, "port"),
        ({"url": "https://my_hooks.example.org/x"}, "'_'"),
        ({"hook": "https://hooks.example.org/x"}, "body must be"),
    ],
)
def test_webhooks_meta_would_refuse_are_refused(keyed, body: dict, reason: str) -> None:
    _, _, key = keyed
    answer = requests.post(
        f"{key.address}/v1/configs/webhook", json=body, headers={"D360-API-KEY": key.api_key}, timeout=10
    )
    assert answer.status_code == 400
    assert reason in answer.json()["meta"]["developer_message"]


def test_only_the_current_key_opens_it(keyed) -> None:
    hub, channel_id, key = keyed
    for path in ("/health_status", "/v1/configs/webhook"):
        assert requests.get(f"{key.address}{path}", timeout=10).status_code == 401
        assert requests.get(f"{key.address}{path}", headers={"D360-API-KEY": "made-up"}, timeout=10).status_code == 401
    api = hub.api()
    api.generate_api_key(channel_id)
    api.close()
    with MessagingApi(key.address, key.api_key, demo_mode=True) as old, pytest.raises(MessagingApiError) as caught:
        old.health_status()
    assert caught.value.kind == "refused_key"
