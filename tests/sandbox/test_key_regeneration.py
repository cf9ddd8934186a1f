"""A client generates its own key in its hub, over real HTTP: the keys the partner holds answer 401 in 360dialog's
recorded shape, a key the partner generates afterwards works; withdrawing permission leaves a key working."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from services.demo.hub_client import SandboxError
from services.partner_api import PartnerApiError
from tests.support import FIXTURES
from tests.support.sandbox_hub import Hub, start_hub
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes  # the hub and its recording receiver on uvicorn

[INVALID_KEY] = json.loads((FIXTURES / "360dialog" / "error_answers.json").read_text())["messaging_api_invalid_key"]
NUMBER = "+49 151 5550101"


def structure(value: Any) -> Any:
    """The keys of a JSON object, nested, without their values."""
    return {key: structure(item) for key, item in value.items()} if isinstance(value, dict) else None


def _start(tmp_path: Path, **env: str) -> Iterator[tuple[Hub, str]]:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub", **env)
        channel_id = hub.sandbox.onboard("Kiwi Bikes", [NUMBER])["channel_ids"][0]
        api = hub.api()
        stack.callback(api.close)
        wait_for(
            lambda: api.list_channels(filters={"id": channel_id})["partner_channels"][0]["status"] == "running", 30
        )
        yield hub, channel_id


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    yield from _start(tmp_path)


@pytest.fixture
def running_direct_paid(tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    yield from _start(tmp_path, SANDBOX_DIRECT_PAID="true")


def _new_key(hub: Hub, channel_id: str) -> Any:
    api = hub.api()
    try:
        return api.generate_api_key(channel_id)
    finally:
        api.close()


def _health(key: Any) -> requests.Response:
    return requests.get(f"{key.address}/health_status", headers={"D360-API-KEY": key.api_key}, timeout=10)


def test_the_partners_key_answers_401_once_the_client_regenerates_and_a_new_key_works(running) -> None:
    hub, channel_id = running
    first = _new_key(hub, channel_id)
    assert _health(first).status_code == 200

    done = hub.sandbox.regenerate_key(channel_id)
    assert done == {"channel_id": channel_id, "phone_number": NUMBER, "client_name": "Kiwi Bikes", "revoked_keys": 1}
    refused = _health(first)
    assert refused.status_code == INVALID_KEY["status"] == 401
    assert structure(refused.json()) == structure(INVALID_KEY["body"])
    assert refused.json()["meta"]["developerMessage"] == INVALID_KEY["expect"]
    multi = requests.get(f"{first.address}/multi_webhook", headers={"D360-API-KEY": first.api_key}, timeout=10)
    assert multi.status_code == 401

    second = _new_key(hub, channel_id)
    assert _health(second).status_code == 200
    assert _health(first).status_code == 401
    # No partner event announces a client's own key (contract section 7).
    assert not [body for body in hub.receiver.bodies() if b"key" in json.loads(body)["event"].encode()]


def test_a_channel_the_hub_does_not_know_is_a_clear_refusal(running) -> None:
    hub, _ = running
    with pytest.raises(SandboxError, match="not found"):
        hub.sandbox.regenerate_key("ghostCH")


def test_withdrawing_permission_leaves_the_key_working_and_the_next_key_waits_for_the_grant(
    running_direct_paid,
) -> None:
    hub, channel_id = running_direct_paid
    key = _new_key(hub, channel_id)
    hub.sandbox.revoke(channel_id)
    # Only a newly generated key revokes the older ones; a withdrawal alone does not (contract section 7).
    assert _health(key).status_code == 200
    with pytest.raises(PartnerApiError):
        _new_key(hub, channel_id)
    assert _health(key).status_code == 200
    hub.sandbox.grant(channel_id)
    assert _health(_new_key(hub, channel_id)).status_code == 200
    assert _health(key).status_code == 401
