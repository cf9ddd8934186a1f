"""The project's own PartnerApi against the real sandbox hub, over HTTP: every endpoint and every error."""

from __future__ import annotations

import time

import pytest
import requests

from services.partner_api import PartnerApi, PartnerApiError
from tests.support.sandbox_hub import Hub
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes  # the sandbox hub and a receiver on uvicorn, a second or so a test


def _channels(api: PartnerApi, **kwargs) -> list[dict]:
    return api.list_channels(**kwargs)["partner_channels"]


def _running_channel(hub: Hub) -> str:
    onboarded = hub.sandbox.onboard("Contract Test Cafe", ["+49 151 1234567"])
    channel_id = onboarded["channel_ids"][0]
    api = hub.api()
    wait_for(lambda: _channels(api, filters={"id": channel_id})[0]["status"] == "running")
    api.close()
    return channel_id


def assert_meta_error(response: requests.Response, status: int) -> str:
    assert response.status_code == status
    meta = response.json()["meta"]
    assert meta["success"] is False
    assert meta["http_code"] == status
    assert isinstance(meta["details"], list)
    assert isinstance(meta["developer_message"], str)
    assert meta["developer_message"]
    return meta["developer_message"]


# -- GET /partners/{pid}/channels ---------------------------------------------------------------------
def test_channels_page_shape_and_paging(seeded_hub) -> None:
    hub, scenario = seeded_hub
    api = hub.api()
    first = api.list_channels(limit=40, offset=0)
    assert first["total"] == scenario["channels"] == 150
    assert (first["count"], first["limit"], first["offset"]) == (40, 40, 0)
    channel = first["partner_channels"][0]
    for name in ("id", "client_id", "status", "account_mode", "created_at", "modified_at", "terminated_at"):
        assert name in channel
    assert set(channel["setup_info"]) == {"phone_number", "phone_name"}
    assert channel["client"]["id"] == channel["client_id"]
    assert {"id", "external_id", "fb_account_status"} <= set(channel["waba_account"])
    last = api.list_channels(limit=40, offset=120)
    assert last["count"] == 30
    every = [channel for channel, total in api.iter_channels(page_size=37)]
    assert len({channel["id"] for channel in every}) == 150
    api.close()


@pytest.mark.parametrize("stage", ["pending", "submitted", "ready", "running"])
def test_channels_filter_by_status(seeded_hub, stage: str) -> None:
    hub, scenario = seeded_hub
    api = hub.api()
    page = api.list_channels(filters={"status": stage}, limit=1000)
    assert page["total"] == scenario["by_status"][stage] > 0
    assert page["filters"] == {"status": stage}
    assert {channel["status"] for channel in page["partner_channels"]} == {stage}
    api.close()


def test_channels_filter_by_client_and_id(seeded_hub) -> None:
    hub, _ = seeded_hub
    api = hub.api()
    some = _channels(api, limit=5)[3]
    by_client = _channels(api, filters={"client_id": some["client_id"]}, limit=1000)
    assert some["id"] in {channel["id"] for channel in by_client}
    assert {channel["client_id"] for channel in by_client} == {some["client_id"]}
    assert [channel["id"] for channel in _channels(api, filters={"id": some["id"]})] == [some["id"]]
    assert api.list_channels(filters={"id": "noSuchCH"})["total"] == 0
    api.close()


@pytest.mark.parametrize("field", ["created_at", "modified_at", "current_quality_rating"])
def test_channels_sort_both_ways(seeded_hub, field: str) -> None:
    hub, _ = seeded_hub
    api = hub.api()
    ascending = [channel[field] for channel in _channels(api, sort=field, limit=1000)]
    descending = [channel[field] for channel in _channels(api, sort=f"-{field}", limit=1000)]
    assert ascending == sorted(ascending)
    assert descending == sorted(ascending, reverse=True)
    assert len(set(ascending)) > 1
    api.close()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"filters": {"colour": "red"}}, "colour"),
        ({"filters": {"status": ["running"]}}, "status"),
        ({"sort": "-colour"}, "colour"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_channels_bad_query_is_400(seeded_hub, kwargs: dict, fragment: str) -> None:
    hub, _ = seeded_hub
    api = hub.api()
    with pytest.raises(PartnerApiError) as caught:
        api.list_channels(**kwargs)
    assert caught.value.kind == "bad_request"
    assert caught.value.status == 400
    assert fragment in caught.value.message
    api.close()


@pytest.mark.parametrize("raw", ["{not json", "[1,2]", '"running"'])
def test_channels_filters_that_are_not_a_json_object_are_400(seeded_hub, raw: str) -> None:
    hub, _ = seeded_hub
    response = requests.get(
        f"{hub.settings.api_base_url}/partners/{hub.settings.partner_id}/channels",
        params={"filters": raw},
        headers={"X-API-Key": hub.settings.partner_api_key},
        timeout=10,
    )
    assert "filters" in assert_meta_error(response, 400)


# -- GET /partners/{pid}/clients ----------------------------------------------------------------------
def test_clients_paging_filters_and_sort(seeded_hub) -> None:
    hub, scenario = seeded_hub
    api = hub.api()
    page = api.list_clients(limit=15, offset=30)
    assert (page["total"], page["count"], page["offset"]) == (scenario["clients"], 10, 30)
    newest_first = api.list_clients(sort="-created_at", limit=1000)["clients"]
    stamps = [client["created_at"] for client in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    one = newest_first[5]
    assert api.list_clients(filters={"id": one["id"]})["clients"] == [one]
    with pytest.raises(PartnerApiError) as caught:
        api.list_clients(filters={"phone": "1"})
    assert caught.value.kind == "bad_request"
    api.close()


# -- PATCH /partners/{pid}/clients/{client_id} --------------------------------------------------------
def test_update_client(make_hub) -> None:
    hub = make_hub()
    client_id = hub.sandbox.onboard("Old Name", ["+49 151 7654321"])["client_id"]
    api = hub.api()
    updated = api.update_client(client_id, {"name": "New Name", "partner_payload": "crm-42"})
    assert (updated["id"], updated["name"], updated["partner_payload"]) == (client_id, "New Name", "crm-42")
    assert api.list_clients(filters={"id": client_id})["clients"][0]["name"] == "New Name"
    channel = _channels(api, filters={"client_id": client_id})[0]
    assert channel["client"]["name"] == "New Name"
    for bad in ({}, {"id": "otherCL"}, {"name": 7}):
        with pytest.raises(PartnerApiError) as caught:
            api.update_client(client_id, bad)
        assert caught.value.kind == "bad_request"
    with pytest.raises(PartnerApiError) as caught:
        api.update_client("noSuchCL", {"name": "x"})
    assert caught.value.kind == "not_found"
    api.close()


# -- GET /partners/{pid}/clients/{client_id}/shared_client_numbers ---------------------------------------
def test_shared_client_numbers_follow_the_clients_permission(make_hub) -> None:
    hub = make_hub()
    onboarded = hub.sandbox.onboard("Two Numbers", ["+49 151 1111111", "+49 151 2222222"])
    client_id, (first, second) = onboarded["client_id"], onboarded["channel_ids"]
    api = hub.api()
    shared = api.shared_client_numbers(client_id)
    assert shared["count"] == 2
    assert {entry["channel_id"] for entry in shared["shared_client_numbers"]} == {first, second}
    query = hub.sandbox.revoke(first)
    assert query == f"client={client_id}&channels=[{second}]&revoked=[{first}]"
    shared = api.shared_client_numbers(client_id)
    assert [entry["channel_id"] for entry in shared["shared_client_numbers"]] == [second]
    assert shared["shared_client_numbers"][0]["phone_number"] == "+49 151 2222222"
    with pytest.raises(PartnerApiError) as caught:
        api.shared_client_numbers("noSuchCL")
    assert caught.value.kind == "not_found"
    api.close()


# -- POST /partners/{pid}/channels/{channel_id}/api_keys -----------------------------------------------
def test_key_rules_running_revocation_and_key_check(make_hub) -> None:
    hub = make_hub()
    api = hub.api()
    pending = hub.sandbox.onboard("Never Live", ["+49 151 3333333"], never_running=True)["channel_ids"][0]
    with pytest.raises(PartnerApiError) as caught:
        api.generate_api_key(pending)
    assert caught.value.kind == "bad_request"
    assert "not running" in caught.value.message
    with pytest.raises(PartnerApiError) as caught:
        api.generate_api_key("noSuchCH")
    assert caught.value.kind == "not_found"

    channel_id = _running_channel(hub)
    first = api.generate_api_key(channel_id)
    assert first.address == hub.settings.sandbox_url
    assert first.app_id
    assert first.key_id
    second = api.generate_api_key(channel_id)
    assert second.api_key != first.api_key

    def check(key: str) -> int:
        return requests.get(f"{second.address}/multi_webhook", headers={"D360-API-KEY": key}, timeout=10).status_code

    assert check(second.api_key) == 200
    assert check(first.api_key) == 401
    assert check("made-up-key") == 401
    assert requests.get(f"{second.address}/multi_webhook", timeout=10).status_code == 401
    api.close()


def test_key_answer_is_201_with_the_documented_fields(make_hub) -> None:
    hub = make_hub()
    channel_id = _running_channel(hub)
    response = requests.post(
        f"{hub.settings.api_base_url}/partners/{hub.settings.partner_id}/channels/{channel_id}/api_keys",
        headers={"X-API-Key": hub.settings.partner_api_key},
        timeout=10,
    )
    assert response.status_code == 201
    assert set(response.json()) == {"id", "address", "api_key", "app_id"}


def test_direct_paid_partner_needs_the_clients_permission(make_hub) -> None:
    hub = make_hub(SANDBOX_DIRECT_PAID="true")
    channel_id = _running_channel(hub)
    api = hub.api()
    assert api.generate_api_key(channel_id).api_key
    hub.sandbox.revoke(channel_id)
    with pytest.raises(PartnerApiError) as caught:
        api.generate_api_key(channel_id)
    assert caught.value.kind == "forbidden"
    assert caught.value.status == 403
    api.close()


def test_without_direct_paid_a_revoked_permission_does_not_block_keys(make_hub) -> None:
    hub = make_hub()
    channel_id = _running_channel(hub)
    hub.sandbox.revoke(channel_id)
    api = hub.api()
    assert api.generate_api_key(channel_id).api_key
    api.close()


# -- PATCH /partners/{pid}, GET and POST /partners/{pid}/webhook_url ------------------------------------
def test_partner_webhook_and_redirect_urls(make_hub) -> None:
    hub = make_hub()
    api = hub.api()
    assert api.get_webhook_url() is None
    updated = api.update_partner(
        webhook_url="https://partner.example/hooks", partner_redirect_url="https://partner.example/back"
    )
    assert updated["webhook_url"] == "https://partner.example/hooks"
    assert updated["partner_redirect_url"] == "https://partner.example/back"
    assert api.get_webhook_url() == "https://partner.example/hooks"
    assert api.set_webhook_url("https://partner.example/v2")["webhook_url"] == "https://partner.example/v2"
    assert api.get_webhook_url() == "https://partner.example/v2"
    for call in (
        lambda: api.update_partner(webhook_url="ftp://nope"),
        lambda: api.update_partner(),
        lambda: api.set_webhook_url("not a url"),
    ):
        with pytest.raises(PartnerApiError) as caught:
            call()
        assert caught.value.kind == "bad_request"
    api.close()


def test_webhooks_go_to_the_webhook_url_the_partner_set(make_hub) -> None:
    hub = make_hub()
    other = make_hub("other")
    api = hub.api()
    api.set_webhook_url(f"{other.settings.receiver_url}/webhooks/360dialog")
    client_id = hub.sandbox.onboard("Moved Hook", ["+49 151 4444444"], never_running=True)["client_id"]
    wait_for(lambda: any(client_id.encode() in body for body in other.receiver.bodies()))
    assert not any(client_id.encode() in body for body in hub.receiver.bodies())
    api.close()


# -- authentication ----------------------------------------------------------------------------------
def test_wrong_api_key_is_401_and_another_partner_is_403(seeded_hub) -> None:
    hub, _ = seeded_hub
    wrong = hub.api(api_key="not-the-key")
    with pytest.raises(PartnerApiError) as caught:
        wrong.list_channels()
    assert caught.value.kind == "unauthorized"
    wrong.close()
    stranger = PartnerApi(hub.settings.api_base_url, "otherPA", api_key=hub.settings.partner_api_key)
    with pytest.raises(PartnerApiError) as caught:
        stranger.list_clients()
    assert caught.value.kind == "forbidden"
    stranger.close()
    base = f"{hub.settings.api_base_url}/partners/{hub.settings.partner_id}/channels"
    assert_meta_error(requests.get(base, timeout=10), 401)
    assert_meta_error(requests.get(base, headers={"Authorization": "Bearer made-up"}, timeout=10), 401)


def test_legacy_token_login_then_bearer(seeded_hub) -> None:
    hub, scenario = seeded_hub
    api = hub.api(username=hub.settings.sandbox_username, password=hub.settings.partner_api_key)
    assert api.list_channels(limit=1)["total"] == scenario["channels"]
    answer = requests.post(
        f"{hub.settings.api_base_url}/token",
        json={"username": hub.settings.sandbox_username, "password": hub.settings.partner_api_key},
        timeout=10,
    ).json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 1
    assert answer["access_token"]
    api.close()


def test_expired_token_is_401_and_the_client_logs_in_again(seeded_hub) -> None:
    hub, scenario = seeded_hub
    api = hub.api(username=hub.settings.sandbox_username, password=hub.settings.partner_api_key)
    api.list_clients(limit=1)
    stale = api._auth_headers()["Authorization"]
    time.sleep(1.5)  # the seeded hub's tokens live 1 s
    url = f"{hub.settings.api_base_url}/partners/{hub.settings.partner_id}/clients"
    assert_meta_error(requests.get(url, headers={"Authorization": stale}, timeout=10), 401)
    assert api.list_clients(limit=1)["total"] == scenario["clients"]
    assert api._auth_headers()["Authorization"] != stale
    api.close()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "demo", "password": "wrong"}, 401),
        ({"username": "someone", "password": None}, 400),
        ({"username": "demo"}, 400),
        (["demo", "x"], 400),
    ],
)
def test_token_errors(seeded_hub, body, status: int) -> None:
    hub, _ = seeded_hub
    response = requests.post(f"{hub.settings.api_base_url}/token", json=body, timeout=10)
    assert_meta_error(response, status)


def test_token_with_wrong_password_through_the_client(seeded_hub) -> None:
    hub, _ = seeded_hub
    api = hub.api(username=hub.settings.sandbox_username, password="wrong-password")
    with pytest.raises(PartnerApiError) as caught:
        api.list_channels()
    assert caught.value.kind == "unauthorized"
    assert "wrong-password" not in caught.value.message
    api.close()


# -- errors outside the endpoints ----------------------------------------------------------------------
def test_unknown_path_and_wrong_method_answer_in_the_meta_shape(seeded_hub) -> None:
    hub, _ = seeded_hub
    headers = {"X-API-Key": hub.settings.partner_api_key}
    base = f"{hub.settings.api_base_url}/partners/{hub.settings.partner_id}"
    assert_meta_error(requests.get(f"{base}/templates", headers=headers, timeout=10), 404)
    assert_meta_error(requests.delete(f"{base}/channels", headers=headers, timeout=10), 405)
    assert_meta_error(requests.post(f"{base}/clients/x", headers=headers, data=b"{", timeout=10), 405)
    assert_meta_error(requests.patch(f"{base}/clients/x", headers=headers, data=b"{", timeout=10), 400)
