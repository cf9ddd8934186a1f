"""The Messaging API client over the shapes 360dialog documents: health, webhook, and every way a call fails."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from services.messaging_api import MessagingApi, MessagingApiError, read_health
from tests.support import FIXTURES

RECORDED = json.loads((FIXTURES / "360dialog" / "messaging_answers.json").read_text())
ADDRESS = "https://waba-v2.360dialog.io"
KEY = "Zq7messagingKeyUnderTest0123"


@pytest.mark.parametrize("recorded", RECORDED["health_status"], ids=[r["name"] for r in RECORDED["health_status"]])
def test_every_recorded_health_answer_is_read(recorded: dict) -> None:
    health = read_health(recorded["body"])
    expect = recorded["expect"]
    assert health.can_send_message == expect["can_send_message"]
    assert health.available is expect["available"]
    assert [entity.entity_type for entity in health.entities] == expect["entities"]
    if "problem" in expect:
        assert expect["problem"] in health.summary()
    assert "phone number: " in health.summary()


@pytest.mark.parametrize("document", [{}, {"health_status": "fine"}, {"status": "ok"}])
def test_an_answer_without_health_status_is_a_bad_response(document: dict) -> None:
    with pytest.raises(MessagingApiError) as caught:
        read_health(document)
    assert caught.value.kind == "bad_response"


def test_missing_fields_read_as_unknown_not_as_available() -> None:
    health = read_health({"health_status": {"entities": [{"entity_type": "WABA"}, "junk"]}})
    assert (health.can_send_message, health.available) == ("UNKNOWN", False)
    assert health.entities[0].can_send_message == "UNKNOWN"


@responses.activate
def test_the_key_goes_in_its_header_only() -> None:
    recorded = RECORDED["health_status"][0]
    responses.get(f"{ADDRESS}/health_status", json=recorded["body"])
    with MessagingApi(ADDRESS, KEY) as api:
        assert api.health_status().available
    sent = responses.calls[0].request
    assert sent.headers["D360-API-KEY"] == KEY
    assert KEY not in sent.url


@responses.activate
def test_the_webhook_is_set_with_its_headers_and_read_back() -> None:
    recorded = RECORDED["configs_webhook"][0]
    responses.post(f"{ADDRESS}/v1/configs/webhook", json=recorded["body"])
    responses.get(f"{ADDRESS}/v1/configs/webhook", json={**recorded["request"], "headers": {"X-Hook-Token": "x"}})
    with MessagingApi(ADDRESS, KEY) as api:
        api.set_webhook(recorded["request"]["url"], recorded["request"]["headers"])
        config = api.webhook()
    assert json.loads(responses.calls[0].request.body) == recorded["request"]
    assert config.url == recorded["request"]["url"]
    assert config.header_names == ("X-Hook-Token",)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "refused_key"), (403, "forbidden"), (404, "not_found"), (429, "rate_limited"), (500, "server_error")],
)
@responses.activate
def test_a_failed_call_says_what_happened_without_the_key(status: int, kind: str) -> None:
    responses.post(f"{ADDRESS}/v1/configs/webhook", json={"meta": {"developer_message": KEY}}, status=status)
    with MessagingApi(ADDRESS, KEY) as api, pytest.raises(MessagingApiError) as caught:
        api.set_webhook("https://hooks.example.org/x")
    assert caught.value.kind == kind
    assert KEY not in str(caught.value)


@responses.activate
def test_timeouts_and_dead_hosts_are_named() -> None:
    responses.get(f"{ADDRESS}/health_status", body=requests.Timeout())
    with MessagingApi(ADDRESS, KEY, timeout=0.5) as api, pytest.raises(MessagingApiError) as caught:
        api.health_status()
    assert caught.value.kind == "timeout"
    with MessagingApi("http://127.0.0.1:9", KEY, timeout=0.5) as api, pytest.raises(MessagingApiError) as caught:
        api.set_webhook("https://hooks.example.org/x")
    assert caught.value.kind == "unreachable"


@responses.activate
def test_a_redirect_is_not_followed_with_the_key() -> None:
    responses.get(f"{ADDRESS}/health_status", status=302, headers={"Location": "https://elsewhere.example/steal"})
    with MessagingApi(ADDRESS, KEY) as api, pytest.raises(MessagingApiError) as caught:
        api.health_status()
    assert caught.value.kind == "redirected"
    assert len(responses.calls) == 1


@responses.activate
def test_an_answer_that_is_not_json_is_a_bad_response() -> None:
    responses.get(f"{ADDRESS}/v1/configs/webhook", body="<html>gateway</html>")
    with MessagingApi(ADDRESS, KEY) as api, pytest.raises(MessagingApiError) as caught:
        api.webhook()
    assert caught.value.kind == "bad_response"


def test_a_key_never_crosses_the_network_in_clear() -> None:
    with pytest.raises(MessagingApiError) as caught:
        MessagingApi("http://waba.example.com", KEY)
    assert caught.value.kind == "insecure"
    MessagingApi("http://127.0.0.1:8503", KEY).close()  # this machine only, as the sandbox serves it
    assert "Zq7" not in repr(MessagingApi(ADDRESS, KEY))
