import contextlib
import json

import pytest

from services.events.webhook import MalformedWebhook, dedupe_key, normalise_event, parse_webhook_body

CHANNEL = {"id": "abcCH", "client_id": "xyzCL", "status": "pending", "setup_info": {"phone_number": "+4915100"}}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("channel_created", "channel_created"),
        ("channel_status_running", "channel_running"),
        ("channel_running", "channel_running"),
        ("channel_live", "channel_running"),
        ("channel_ready", "channel_event"),
        ("phone_number_quality_changed", "quality_changed"),
        ("client_created", "client_created"),
        ("account_violation", "account_alert"),
        ("account_restriction", "account_alert"),
        ("something_new_from_360dialog", "other"),
    ],
)
def test_event_names_map_to_kinds(name: str, kind: str) -> None:
    assert normalise_event({"event": name, "data": CHANNEL}).kind == kind


def test_channel_fields_are_read_from_data() -> None:
    event = normalise_event({"event": "channel_created", "data": CHANNEL})
    assert (event.channel_id, event.client_id, event.status, event.phone_number) == (
        "abcCH",
        "xyzCL",
        "pending",
        "+4915100",
    )


def test_the_payloads_status_wins_over_the_event_name() -> None:
    assert normalise_event({"event": "channel_live", "data": {**CHANNEL, "status": "ready"}}).status == "ready"
    assert normalise_event({"event": "channel_running", "data": {**CHANNEL, "status": "ready"}}).status == "ready"


@pytest.mark.parametrize(
    ("name", "status"), [("channel_running", "running"), ("channel_status_running", "running"), ("channel_live", None)]
)
def test_a_name_implies_running_only_when_the_payload_has_no_status(name: str, status: str | None) -> None:
    assert normalise_event({"event": name, "data": {"id": "abcCH"}}).status == status


def test_quality_change_fields() -> None:
    event = normalise_event(
        {
            "event": "phone_number_quality_changed",
            "data": {"id": "abcCH", "current_limit": "TIER_1K", "current_quality_rating": "YELLOW"},
        }
    )
    assert (event.messaging_limit, event.quality_rating) == ("TIER_1K", "YELLOW")


def test_nested_channel_is_read_defensively() -> None:
    event = normalise_event({"event": "channel_created", "data": {"channel": CHANNEL}})
    assert event.channel_id == "abcCH"


def test_dedupe_key_uses_the_event_id_else_a_stable_hash() -> None:
    assert dedupe_key({"id": "ev1", "event": "x"}) == "id:ev1"
    a = {"event": "x", "data": {"a": 1, "b": 2}}
    b = {"data": {"b": 2, "a": 1}, "event": "x"}
    assert dedupe_key(a) == dedupe_key(b)
    assert dedupe_key(a) != dedupe_key({"event": "x", "data": {"a": 2, "b": 2}})


def test_single_object_keeps_the_raw_body_exactly() -> None:
    raw = '{"event": "channel_created",   "data": {"id": "abcCH"}}'
    [event] = parse_webhook_body(raw.encode())
    assert event.raw_body == raw


def test_array_of_events() -> None:
    body = json.dumps([{"event": "channel_created", "data": CHANNEL}, {"event": "account_violation", "data": {}}])
    events = parse_webhook_body(body.encode())
    assert [event.event_type for event in events] == ["channel_created", "account_violation"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[]", "empty array"),
        (b'"text"', "JSON object or an array"),
        (b"42", "JSON object or an array"),
        (b'{"data": {}}', "event name missing"),
        (b'{"event": ""}', "event name missing"),
        (b'{"event": 5}', "event name missing"),
        (b'[{"event": "x"}, 3]', "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_malformed_bodies_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedWebhook, match=reason):
        parse_webhook_body(body)


@pytest.mark.parametrize("shape", ["object", "array"])
def test_nesting_at_the_limit_is_refused_as_malformed_never_an_error(shape: str) -> None:
    # Around the interpreter's recursion limit json.loads may take a document that hashing it (no id) or
    # encoding it again (an array's events) cannot: every depth must end in events or a reason.
    for depth in range(900, 1010):
        event = '{"event": "deep", "data": ' + "[" * depth + "]" * depth + "}"
        body = event if shape == "object" else f"[{event}]"
        with contextlib.suppress(MalformedWebhook):
            parse_webhook_body(body.encode())


def test_escapes_that_are_not_lone_surrogates_are_kept() -> None:
    [event] = parse_webhook_body(b'{"id": "e1", "event": "caf\\u00e9", "data": {"name": "\\ud83d\\ude00"}}')

    assert event.event_type == "caf\u00e9"
    assert event.payload["data"]["name"] == "\U0001f600"
