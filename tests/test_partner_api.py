"""Every Partner API failure class: the error kind, the operator's message, and what is (not) retried."""

from __future__ import annotations

import pytest
import requests
import responses

from services.messaging_api import MessagingApiError
from services.partner_api import PartnerApi, PartnerApiError, answer_json, answer_object, operator_message
from tests.support.mocked_hub import BASE

CHANNELS = f"{BASE}/partners/pa/channels"
KEY_URL = f"{BASE}/partners/pa/channels/ch1CH/api_keys"


def _key_failure(api: PartnerApi, **response) -> PartnerApiError:
    with responses.RequestsMock() as mocked:
        mocked.post(KEY_URL, **response)
        with pytest.raises(PartnerApiError) as raised:
            api.generate_api_key("ch1CH")
        assert len(mocked.calls) == 1, "the key POST must never be retried"
    return raised.value


@pytest.mark.parametrize(
    ("response", "kind", "status", "words"),
    [
        ({"status": 401}, "unauthorized", 401, "credentials"),
        ({"status": 403, "json": {"meta": {"developer_message": "no permission"}}}, "forbidden", 403, "grant"),
        ({"status": 404}, "not_found", 404, "D360_PARTNER_ID"),
        ({"status": 400, "json": {"meta": {"developer_message": "bad"}}}, "bad_request", 400, "malformed"),
        ({"status": 418}, "http_error", 418, "418"),
    ],
)
def test_key_post_http_failures_have_their_own_message(api, response, kind, status, words) -> None:
    error = _key_failure(api, **response)
    assert (error.kind, error.status) == (kind, status)
    assert not error.may_have_reached_server
    assert words in operator_message(error)


def test_rate_limited_key_post_reports_retry_after_and_is_not_retried(api) -> None:
    error = _key_failure(api, status=429, headers={"Retry-After": "7"})
    assert error.kind == "rate_limited"
    assert error.retry_after == 7
    assert "retry after 7 s" in operator_message(error)


def test_server_error_on_key_post_is_not_retried(api) -> None:
    error = _key_failure(api, status=502)
    assert error.kind == "server_error"
    assert "502" in operator_message(error)


def test_timeout_on_key_post_means_the_outcome_is_unknown(api) -> None:
    error = _key_failure(api, body=requests.ReadTimeout("slow"))
    assert error.kind == "timeout"
    assert error.may_have_reached_server
    assert "check key state" in operator_message(error)


def test_connection_refused_before_sending_is_unreachable(api) -> None:
    error = _key_failure(api, body=requests.ConnectTimeout("no route"))
    assert error.kind == "unreachable"
    assert not error.may_have_reached_server
    assert "D360_API_BASE_URL" in operator_message(error)


def test_bad_json_on_key_post(api) -> None:
    error = _key_failure(api, status=201, body="<html>oops</html>")
    assert error.kind == "bad_response"
    assert "not JSON" in operator_message(error)


def test_key_answer_without_key_is_a_bad_response_that_may_have_made_a_key(api) -> None:
    error = _key_failure(api, status=201, json={"id": "k1"})
    assert error.kind == "bad_response"
    assert error.may_have_reached_server


def test_reads_are_retried_after_server_errors(api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, status=503)
        mocked.get(CHANNELS, json={"partner_channels": [], "total": 0})
        assert api.list_channels()["partner_channels"] == []
        assert len(mocked.calls) == 2


def test_reads_retry_after_429_honouring_retry_after(api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, status=429, headers={"Retry-After": "0"})
        mocked.get(CHANNELS, json={"partner_channels": [{"id": "a"}], "total": 1})
        assert api.list_channels()["partner_channels"] == [{"id": "a"}]
        assert len(mocked.calls) == 2


def test_reads_that_keep_failing_give_up_with_server_error(api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, status=500)
        with pytest.raises(PartnerApiError) as raised:
            api.list_channels()
        assert len(mocked.calls) == 4  # the first try and three retries
    assert raised.value.kind == "server_error"


def test_read_timeout_on_list_is_a_timeout(api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, body=requests.ReadTimeout("slow"))
        with pytest.raises(PartnerApiError) as raised:
            api.list_channels()
    assert raised.value.kind == "timeout"
    assert "did not answer within 2 s" in operator_message(raised.value)


def test_list_answer_with_wrong_shape(api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, json=["not", "an", "object"])
        with pytest.raises(PartnerApiError) as raised:
            api.list_channels()
    assert raised.value.kind == "bad_response"


def test_no_message_repeats_the_partner_key(api) -> None:
    for response in ({"status": 401}, {"status": 403}, {"body": requests.ReadTimeout("x")}):
        error = _key_failure(api, **response)
        assert "partner-key-123456" not in operator_message(error)


def test_unreachable_on_read_after_retries(api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, body=requests.ConnectionError("refused"))
        with pytest.raises(PartnerApiError) as raised:
            api.list_channels()
    assert raised.value.kind == "unreachable"
    assert not raised.value.may_have_reached_server
    assert "Cannot reach the Partner API at http://hub.test/api/v2" in operator_message(raised.value)


@pytest.mark.parametrize(
    ("error_type", "api_name"), [(PartnerApiError, "Partner API"), (MessagingApiError, "Messaging API")]
)
@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"body": "<html>oops</html>"}, "answered with something that is not JSON"),
        ({"json": ["a", "list"]}, "answered with an unexpected JSON shape"),
    ],
)
def test_an_answer_that_is_no_json_object_is_a_bad_response_of_the_api_that_gave_it(
    error_type, api_name, answer, said
) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, **answer)
        response = requests.get(CHANNELS, timeout=1)
    with pytest.raises(error_type) as raised:
        answer_object(response, error_type)
    assert (raised.value.kind, raised.value.message) == ("bad_response", f"The {api_name} {said}")


def test_any_json_shape_is_read_as_sent_where_the_shape_is_unconfirmed() -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, json=["a", "list"])
        response = requests.get(CHANNELS, timeout=1)
    assert answer_json(response, PartnerApiError) == ["a", "list"]
