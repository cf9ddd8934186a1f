"""The console's edge as functions: the source it puts on a request, what it blanks, what it closes."""

from __future__ import annotations

import json

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from dashboard.edge import (
    is_closed,
    response_headers,
    with_source,
    without_internals,
    without_outside_origins,
)
from services.addresses import parse_trusted_proxies


def scope(peer: str, *headers: tuple[bytes, bytes]) -> dict:
    return {"type": "websocket", "client": (peer, 50000), "headers": [(b"host", b"console"), *headers]}


def test_a_request_without_a_trusted_proxy_is_its_peer_and_its_address_headers_go_no_further() -> None:
    forged = scope("127.0.0.1", (b"x-forwarded-for", b"203.0.113.9"), (b"x-real-ip", b"203.0.113.8"))
    updated = with_source(forged, ())
    assert updated["client"] == ("127.0.0.1", 50000)
    assert updated["headers"] == [(b"host", b"console")]
    assert forged["client"] == ("127.0.0.1", 50000)  # the original scope is left alone


def test_a_trusted_proxy_names_the_source_by_its_own_hop_only() -> None:
    trusted = parse_trusted_proxies("127.0.0.1")
    proxied = scope("127.0.0.1", (b"x-forwarded-for", b"198.51.100.1, 203.0.113.9"))
    assert with_source(proxied, trusted)["client"] == ("203.0.113.9", 50000)
    free_text = scope("127.0.0.1", (b"x-forwarded-for", b"360dialog-hub (verified)"))
    assert with_source(free_text, trusted)["client"] == ("127.0.0.1", 50000)
    stranger = scope("192.0.2.7", (b"x-forwarded-for", b"203.0.113.9"))
    assert with_source(stranger, trusted)["client"] == ("192.0.2.7", 50000)


def test_a_session_start_loses_its_paths_and_versions_and_nothing_else() -> None:
    message = ForwardMsg()
    message.new_session.main_script_path = "/srv/console/dashboard/app.py"
    message.new_session.main_script_hash = "abc"
    message.new_session.initialize.environment_info.streamlit_version = "1.67.0"
    message.new_session.initialize.environment_info.python_version = "3.11.7.final.0"
    message.new_session.initialize.environment_info.server_os = "Linux"
    message.new_session.initialize.session_id = "s1"
    cleaned = ForwardMsg()
    cleaned.ParseFromString(without_internals(message.SerializeToString()))
    assert cleaned.new_session.main_script_path == ""
    assert cleaned.new_session.initialize.environment_info == ForwardMsg().new_session.initialize.environment_info
    assert (cleaned.new_session.main_script_hash, cleaned.new_session.initialize.session_id) == ("abc", "s1")


def test_other_messages_and_unreadable_frames_pass_unchanged() -> None:
    delta = ForwardMsg()
    delta.delta.new_element.markdown.body = "/srv/console is fine in a page's own text"
    payload = delta.SerializeToString()
    assert without_internals(payload) is payload
    assert without_internals(b"\xff\xfe not a message") == b"\xff\xfe not a message"


def test_no_outside_origin_may_drive_a_framed_console() -> None:
    body = json.dumps({"allowedOrigins": ["https://*.streamlit.app"], "useExternalAuthToken": False}).encode()
    assert json.loads(without_outside_origins(body)) == {"allowedOrigins": [], "useExternalAuthToken": False}
    assert without_outside_origins(b"not json") == b"not json"


@pytest.mark.parametrize(
    ("path", "closed"),
    [
        ("/_stcore/metrics", True),
        ("/_stcore/metrics/", True),
        ("/_stcore/agent/interact", True),
        ("/_stcore/agent/mcp", True),
        ("/_stcore/script-health-check", True),
        ("/_stcore/health", False),
        ("/_stcore/stream", False),
        ("/landing", False),
    ],
)
def test_internal_routes_are_closed(path: str, closed: bool) -> None:
    assert is_closed(path) is closed


def test_every_page_but_the_landing_may_be_framed_by_the_console_only() -> None:
    assert (b"content-security-policy", b"frame-ancestors 'self'") in response_headers("/channels", [])
    landing = dict(response_headers("/landing", []))
    assert b"content-security-policy" not in landing
    assert landing[b"x-content-type-options"] == b"nosniff"
    assert landing[b"referrer-policy"] == b"no-referrer"
