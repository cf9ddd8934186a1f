"""Property tests for the webhook normaliser: any body is read or refused with MalformedWebhook, nothing else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.events.webhook import (
    CHANNEL_KINDS,
    KIND_BY_EVENT,
    MAX_NAME_LENGTH,
    MalformedWebhook,
    WebhookEvent,
    normalise_event,
    parse_webhook_body,
)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
event_names = st.sampled_from([*KIND_BY_EVENT, "channel_ready", "account_violation"]) | st.text(min_size=1, max_size=40)
channel_like = st.fixed_dictionaries(
    {},
    optional={
        "id": scalars,
        "client_id": scalars,
        "status": scalars,
        "current_limit": scalars,
        "current_quality_rating": scalars,
        "setup_info": st.fixed_dictionaries({}, optional={"phone_number": scalars}) | json_values,
        "client": st.fixed_dictionaries({}, optional={"id": scalars}) | json_values,
        "channel": json_values,
    },
)
events = st.fixed_dictionaries(
    {"event": event_names},
    optional={"id": scalars, "data": channel_like | json_values, "extra": json_values},
)


def read_or_refuse(body: bytes) -> list[WebhookEvent] | None:
    try:
        parsed = parse_webhook_body(body)
    except MalformedWebhook as error:
        message = str(error)
        parsed = None
    if parsed is None:
        # A short message that never repeats the body.
        assert 0 < len(message) < 200
        return None
    assert parsed
    for event in parsed:
        assert isinstance(event, WebhookEvent)
        assert event.event_type.strip()
        assert len(event.event_type) <= MAX_NAME_LENGTH
        for value in (event.channel_id, event.client_id, event.status, event.phone_number):
            assert value is None or (isinstance(value, str) and value and len(value) <= MAX_NAME_LENGTH)
        # Everything read from a body must be storable: valid UTF-8 all the way.
        event.raw_body.encode("utf-8")
        event.dedupe_key.encode("utf-8")
    return parsed


@PROPERTY_SETTINGS
@given(st.binary(max_size=400))
@example(b"")
@example(b"\xff\xfe{}")
@example(b"[" * 50_000)
@example(b'{"event": "x", "data": {"id": ' + b"9" * 5000 + b"}}")
@example(b'{"event": "\\ud800"}')
@example(b'[{"event": "ok"}, {"event": "x", "id": "\\udfff"}]')
@example(b'{"event": "x", "id": NaN}')
@example(b"[]")
@example(b"[1, 2]")
@example(b'"channel_created"')
def test_any_bytes_are_read_or_refused(body: bytes) -> None:
    read_or_refuse(body)


@PROPERTY_SETTINGS
@given(json_values)
def test_any_json_document_is_read_or_refused(document: object) -> None:
    read_or_refuse(json.dumps(document).encode())


@PROPERTY_SETTINGS
@given(json_values)
def test_normalise_event_takes_anything(value: object) -> None:
    try:
        event = normalise_event(value)
    except MalformedWebhook:
        return
    assert isinstance(value, dict)
    assert event.payload is value


@PROPERTY_SETTINGS
@given(events)
def test_an_event_keeps_its_name_and_body_and_dedupes_stably(event: dict) -> None:
    body = json.dumps(event)
    try:
        [parsed] = parse_webhook_body(body.encode())
    except MalformedWebhook:
        assert not event["event"].strip()
        return
    assert parsed.event_type == event["event"].strip()[:MAX_NAME_LENGTH]
    assert parsed.raw_body == body
    unnamed_kind = "channel_event" if parsed.event_type.startswith("channel_") else "other"
    assert parsed.kind == KIND_BY_EVENT.get(parsed.event_type, unnamed_kind)
    # Only channel events name a channel: no other event can make a channel row.
    if parsed.kind not in CHANNEL_KINDS:
        assert parsed.channel_id is None
    # A retry of the same delivery (same content, any key order) dedupes to the same key.
    reordered = json.dumps(dict(reversed(list(event.items()))))
    assert parse_webhook_body(reordered.encode())[0].dedupe_key == parsed.dedupe_key


@PROPERTY_SETTINGS
@given(st.lists(events, min_size=1, max_size=5))
def test_an_array_yields_one_event_per_item(items: list[dict]) -> None:
    body = json.dumps(items).encode()
    parsed = read_or_refuse(body)
    if parsed is not None:
        assert [event.payload for event in parsed] == items
