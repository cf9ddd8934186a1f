"""The Messaging API client over the shapes 360dialog documents: health, webhook, and every way a call fails."""

from __future__ import annotations

import json
import re

import pytest
import requests
import responses

from services.keys.readiness import ReadinessConfig
from services.messaging_api import (
    DEFAULT_MESSAGING_API_HOSTS,
    MessagingApi,
    MessagingApiError,
    destination_problem,
    host_allowed,
    read_health,
    redacted_url,
)
from services.settings import Settings, SettingsError, load_settings
from tests.support import FIXTURES
from tests.support.console import live_env

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
    with (
        MessagingApi("http://127.0.0.1:9", KEY, demo_mode=True, timeout=0.5) as api,
        pytest.raises(MessagingApiError) as caught,
    ):
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
        MessagingApi("http://waba-v2.360dialog.io", KEY)
    assert caught.value.kind == "refused_host"
    assert "not https" in caught.value.message
    MessagingApi("http://127.0.0.1:8503", KEY, demo_mode=True).close()  # as the sandbox serves it, in demo mode
    assert "Zq7" not in repr(MessagingApi(ADDRESS, KEY))


# Where a key answer may send the key: https on a host CONSOLE_MESSAGING_API_HOSTS allows ("*.360dialog.io").
ALLOWED_ADDRESSES = [
    "https://waba-v2.360dialog.io",
    "https://waba.360dialog.io/",
    "https://WABA-V2.360Dialog.IO",  # DNS names are case-insensitive: the same host
    "https://waba-v2.360dialog.io:443",
    "https://a.b.360dialog.io/v1",  # `*` spans any depth inside 360dialog's own zone
]
REFUSED_ADDRESSES = [
    "http://127.0.0.1:18601",  # this machine: demo mode only
    "http://localhost:8503",
    "https://[::1]:8503",
    "https://evil.example",
    "https://360dialog.io",  # `*.` needs a label before the zone
    "https://waba-v2.360dialog.io.evil.example",
    "https://360dialog.io.evil",
    "https://evil.example#.360dialog.io",
    "https://evil.example?.360dialog.io",
    "https://evil.example/.360dialog.io",
    "https://evil.example\\.360dialog.io",
    "https://user@evil.example",
    "https://waba-v2.360dialog.io@evil.example",
    "https://user:pass@waba-v2.360dialog.io",
    "https://waba-v2%2e360dialog.io",
    "https://evil%2eexample%2f.360dialog.io",
    "https://waba-v2.360dialog.io.",  # trailing dot: one spelling only
    "https://waba-v2..360dialog.io",
    "https://wаba-v2.360dialog.io",  # Cyrillic a
    "https://xn--wba-v2-5ve.360dialog.io.evil.example",
    "https://waba-v2．360dialog．io",  # fullwidth dots, which IDNA would turn into dots
    "https://waba-v2.360dialog.io:8443",  # a port no pattern names
    "https://waba-v2.360dialog.io:99999",
    "https://waba_v2.360dialog.io",
    "https://waba-v2.360dialog.io /x",
    "https://waba-v2.360dialog.io\t",
    "ftp://waba-v2.360dialog.io",
    "waba-v2.360dialog.io",
    "//waba-v2.360dialog.io",
    "https://",
    "https://203.0.113.9",
    "",
]


@pytest.mark.parametrize("address", ALLOWED_ADDRESSES)
def test_a_360dialog_https_address_may_receive_the_key(address: str) -> None:
    assert destination_problem(address, DEFAULT_MESSAGING_API_HOSTS, demo_mode=False) is None


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_any_other_address_is_refused_before_the_key_leaves(address: str) -> None:
    # Any request at all would fail this test.
    with responses.RequestsMock(), pytest.raises(MessagingApiError) as caught:
        MessagingApi(address, KEY)
    assert caught.value.kind == "refused_host"
    assert caught.value.message.startswith("The key was not sent: ")
    assert "Zq7" not in caught.value.message


def test_the_refusal_names_the_host_it_refused() -> None:
    problem = destination_problem("https://evil.example/api", DEFAULT_MESSAGING_API_HOSTS, demo_mode=False)
    assert problem == "its Messaging API address names evil.example, a host CONSOLE_MESSAGING_API_HOSTS does not allow"
    problem = destination_problem("http://127.0.0.1:18601", DEFAULT_MESSAGING_API_HOSTS, demo_mode=False)
    assert "this machine (127.0.0.1)" in problem
    # Odd spellings are not echoed: they could be anything.
    assert "evil" not in destination_problem("https://wаba.evil.example", ("*",), demo_mode=False)


def test_loopback_is_allowed_over_http_in_demo_mode_only() -> None:
    for address in ("http://127.0.0.1:8503", "http://localhost:8503", "http://[::1]:8503"):
        assert destination_problem(address, DEFAULT_MESSAGING_API_HOSTS, demo_mode=True) is None
        assert destination_problem(address, ("127.0.0.1", "localhost", "::1"), demo_mode=False) is not None
    # Demo mode does not open any other host.
    assert destination_problem("https://evil.example", DEFAULT_MESSAGING_API_HOSTS, demo_mode=True) is not None


@pytest.mark.parametrize(
    ("host", "port", "patterns", "allowed"),
    [
        ("waba-v2.360dialog.io", None, ("*.360dialog.io",), True),
        ("360dialog.io", None, ("*.360dialog.io",), False),
        ("360dialog.io", None, ("*.360dialog.io", "360dialog.io"), True),
        ("api.example.com", 8443, ("api.example.com",), False),
        ("api.example.com", 8443, ("api.example.com:8443",), True),
        ("api.example.com", None, ("api.example.com:8443",), False),
        ("api.example.com", 443, ("API.Example.com",), True),
        ("waba-v2.360dialog.io", None, ("waba-v2.360dialog.io", "*.example.com"), True),
        ("hub.360dialog.io", None, ("waba-v2.360dialog.io",), False),
    ],
)
def test_host_patterns_name_hosts_and_ports(host: str, port: int | None, patterns: tuple, allowed: bool) -> None:
    assert host_allowed(host, port, patterns) is allowed


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/in?token=SECRET", "https://hooks.example/in?[query hidden]"),
        ("https://user:SECRET@hooks.example/in", "https://[credentials hidden]@hooks.example/in"),
        (
            "https://SECRET@hooks.example:8443/in?x=1#SECRET",
            "https://[credentials hidden]@hooks.example:8443/in?[query hidden]",
        ),
        ("https://hooks.example/wa/chA1", "https://hooks.example/wa/chA1"),
        ("https://hooks.example/in#SECRET", "https://hooks.example/in"),
        ("https://[::1]:8443/in?SECRET", "https://[::1]:8443/in?[query hidden]"),
        ("https://[::1/in?SECRET", "(an address that is not a URL)"),
    ],
)
def test_a_url_is_shown_without_its_credentials_or_query(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
    assert "SECRET" not in redacted_url(url)


def _settings(tmp_path, mode: str, **extra: str) -> Settings:
    env = live_env(tmp_path, "a-password-for-the-test") if mode == "live" else {"CONSOLE_DATA_DIR": str(tmp_path)}
    env.setdefault("CONSOLE_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    return load_settings(env={**env, **extra})


def test_keys_go_to_360dialog_hosts_in_live_mode_and_to_this_machine_in_demo_mode_too(tmp_path) -> None:
    live = ReadinessConfig.from_settings(_settings(tmp_path / "live", "live"))
    assert (live.allowed_hosts, live.demo_mode) == (("*.360dialog.io",), False)
    demo = ReadinessConfig.from_settings(_settings(tmp_path / "demo", "demo"))
    assert demo.demo_mode
    assert destination_problem("http://127.0.0.1:8503", demo.allowed_hosts, demo_mode=demo.demo_mode) is None
    listed = _settings(
        tmp_path / "listed", "live", CONSOLE_MESSAGING_API_HOSTS="*.360dialog.io, API.Proxy.example:8443"
    )
    assert listed.messaging_api_hosts == ("*.360dialog.io", "api.proxy.example:8443")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("*", "item 1 needs two fixed labels"),
        ("*.360dialog.io *.io", "item 2 needs two fixed labels"),
        ("waba.*", "item 1 needs two fixed labels"),
        ("https://waba.360dialog.io", "item 1 is not a host name pattern"),
        ("user@waba.360dialog.io", "item 1 is not a host name pattern"),
        ("waba.360dialog.io:99999", "item 1 is not a host name pattern"),
        (" , ", "must name at least one host pattern"),
    ],
)
def test_a_host_pattern_that_would_open_too_much_stops_the_start(tmp_path, value: str, words: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(words)):
        _settings(tmp_path, "live", CONSOLE_MESSAGING_API_HOSTS=value)
