"""The Partner API client never carries its key elsewhere and never puts untrusted text in a path."""

from __future__ import annotations

import pytest
import responses

from services.partner_api import PartnerApi, PartnerApiError, operator_message


@responses.activate
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_an_error_naming_where_it_pointed_and_is_not_followed(api, status: int) -> None:
    # The old behaviour: requests followed it, X-API-Key included, to any host.
    responses.get(
        f"{api.base_url}/partners/pa/channels", status=status, headers={"Location": "https://evil.example/steal"}
    )
    responses.get("https://evil.example/steal", json={"partner_channels": []})
    with pytest.raises(PartnerApiError) as caught:
        api.list_channels()
    assert caught.value.kind == "redirected"
    assert "evil.example" in str(caught.value)
    assert [call.request.url.split("?")[0] for call in responses.calls] == [f"{api.base_url}/partners/pa/channels"]
    assert "D360_API_BASE_URL" in operator_message(caught.value)


@responses.activate
def test_a_redirected_key_request_leaves_the_channel_at_check_key_state(api) -> None:
    responses.post(f"{api.base_url}/partners/pa/channels/chA1/api_keys", status=302, headers={"Location": "/x"})
    with pytest.raises(PartnerApiError) as caught:
        api.generate_api_key("chA1")
    assert caught.value.may_have_reached_server


@pytest.mark.parametrize("channel_id", ["../../partners/other", "chA1/api_keys", "ch A1", "chA1?x=1", "", "é"])
def test_an_id_that_is_not_an_id_never_reaches_a_url(api, channel_id: str) -> None:
    with responses.RequestsMock(), pytest.raises(PartnerApiError) as caught:
        api.generate_api_key(channel_id)
    assert caught.value.kind == "invalid_id"


@responses.activate
def test_client_ids_are_checked_in_every_path(api) -> None:
    with pytest.raises(PartnerApiError, match="client id"):
        api.shared_client_numbers("a/b")
    with pytest.raises(PartnerApiError, match="client id"):
        api.update_client("a%2Fb", {"name": "x"})
    assert len(responses.calls) == 0


def test_live_mode_refuses_a_plain_http_partner_api() -> None:
    with pytest.raises(ValueError, match="https"):
        PartnerApi("http://hub.360dialog.io/api/v2", "pa", api_key="k" * 20, require_https=True)
    PartnerApi("https://hub.360dialog.io/api/v2", "pa", api_key="k" * 20, require_https=True).close()
    PartnerApi("http://127.0.0.1:8503/api/v2", "pa", api_key="k" * 20, require_https=True).close()


def test_a_partner_id_that_is_not_an_id_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="partner id"):
        PartnerApi("https://hub.360dialog.io/api/v2", "pa/../x", api_key="k" * 20)
