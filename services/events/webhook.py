"""Reading partner webhook bodies into events: defensive about nesting, never dropping unknown names."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from services.whatsapp import phone_digits, written_numbers

RUNNING_EVENT_NAMES = frozenset({"channel_status_running", "channel_running", "channel_live"})
# The payload's data.status is the truth (contract section 5); these names imply `running` only when the
# payload carries no status. `channel_live` implies nothing: one recorded in production said "ready".
IMPLIES_RUNNING = frozenset({"channel_status_running", "channel_running"})
# These name the number only, by data.phone_number (contract section 5): matched to a channel by its digits.
ACCOUNT_ALERT_NAMES = ("account_violation", "account_restriction")
# These name a WABA in data.id, never a channel (contract section 7): they reach channels through their WABA.
TEMPLATE_EVENT_NAMES = ("waba_template_status_changed", "template_messaging_enabled", "template_messaging_disabled")
# Named by a .NET client, shapes unconfirmed (contract section 7): read as channel events, a channel id where
# one is given.
CANCELLATION_EVENT_NAMES = ("cancellation_request", "cancellation_revoke", "cancellation_processed")
KIND_BY_EVENT = {
    **dict.fromkeys(TEMPLATE_EVENT_NAMES, "template"),
    **dict.fromkeys(CANCELLATION_EVENT_NAMES, "cancellation"),
    "channel_created": "channel_created",
    "phone_number_quality_changed": "quality_changed",
    "client_created": "client_created",
    **dict.fromkeys(ACCOUNT_ALERT_NAMES, "account_alert"),
    **dict.fromkeys(RUNNING_EVENT_NAMES, "channel_running"),
}
# Only these describe a channel (its id in data.id); any other event is stored and shown, and touches no
# channel or client row: a template event's data.id is a WABA id, for one.
CHANNEL_KINDS = frozenset({"channel_created", "channel_running", "quality_changed", "channel_event", "cancellation"})
# Where a business portfolio's id may come (none is confirmed; contract section 7): read in this order, in the
# channel object and in its waba_account. Without one, the WABA stands for the portfolio.
PORTFOLIO_FIELDS = ("business_portfolio_id", "portfolio_id", "business_id", "fb_business_id", "owner_business_id")
MAX_EVENTS_PER_BODY = 1000
MAX_NAME_LENGTH = 200


class MalformedWebhook(ValueError):
    """The body is not a webhook we can store; the message says why (and never repeats the body)."""


@dataclass(frozen=True)
class ChannelFacts:
    """What an event says about its channel and client: all the channel projection reads of it."""

    event_type: str
    kind: str
    channel_id: str | None
    client_id: str | None
    status: str | None
    quality_rating: str | None
    messaging_limit: str | None
    phone_number: str | None
    # The names people know a channel by, when the event carries them (a channel object, flat fields, a client).
    phone_name: str | None
    client_name: str | None
    # The channel's WABA (360dialog's id and Meta's), and business portfolio when named; for a template event,
    # the WABA it names. When 360dialog says the channel ended (terminated_at), that time.
    waba_id: str | None
    waba_external_id: str | None
    portfolio_id: str | None
    terminated_at: str | None


@dataclass(frozen=True)
class WebhookEvent(ChannelFacts):
    dedupe_key: str
    raw_body: str
    payload: dict[str, Any]
    # An account alert's number, digits only: what it is matched to its channel by (None for other events).
    phone_digits: str | None = None
    # The digits of the numbers the payload writes with separators, for the full-text index (migration m012).
    numbers: str | None = None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:MAX_NAME_LENGTH] or None


def _first(*values: Any) -> str | None:
    for value in values:
        text = _text(value)
        if text:
            return text
    return None


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    if isinstance(data, dict):
        # Some deliveries nest the channel one level deeper.
        for key in ("channel", "partner_channel"):
            if isinstance(data.get(key), dict):
                return {**data, **data[key]}
        return data
    return {}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def waba_facts(channel: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A channel object's WABA id, Meta's id for it, and its business portfolio when one is named: a top-level
    waba_account_id or waba_account.id; waba_account.external_id; the first PORTFOLIO_FIELDS found in the
    channel, its waba_account, or waba_account.owner_business_info.id (Meta's field on a WABA)."""
    waba = _object(channel.get("waba_account"))
    owner = _object(waba.get("owner_business_info"))
    candidates = [channel.get(name) for name in PORTFOLIO_FIELDS] + [waba.get(name) for name in PORTFOLIO_FIELDS]
    portfolio = _first(*candidates, owner.get("id"))
    return _first(channel.get("waba_account_id"), waba.get("id")), _first(waba.get("external_id")), portfolio


def dedupe_key(event: dict[str, Any]) -> str:
    """The event id when 360dialog sends one, else a hash of the canonical event: a retry hashes the same."""
    event_id = _text(event.get("id"))
    if event_id:
        return f"id:{event_id}"
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _refuse_unstorable(value: Any) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # A JSON escape such as \ud800 decodes to a lone surrogate, which neither hashes nor stores.
        raise MalformedWebhook("the event holds an invalid unicode escape (a lone surrogate)") from None
    except (TypeError, ValueError, RecursionError):
        raise MalformedWebhook("the event is not plain JSON data") from None


def normalise_event(event: Any, raw_body: str | None = None) -> WebhookEvent:
    """One event from any Python value; raises MalformedWebhook unless it is a JSON object we can store."""
    if not isinstance(event, dict):
        raise MalformedWebhook("each event must be a JSON object")
    _refuse_unstorable(event)
    return _normalise(event, raw_body)


def _normalise(event: dict[str, Any], raw_body: str | None) -> WebhookEvent:
    name = event.get("event", event.get("type"))
    if not isinstance(name, str) or not name.strip():
        raise MalformedWebhook("event name missing: expected a string field 'event'")
    name = name.strip()[:MAX_NAME_LENGTH]
    data = _data(event)
    setup = data.get("setup_info") if isinstance(data.get("setup_info"), dict) else {}
    client = data.get("client") if isinstance(data.get("client"), dict) else {}
    kind = _kind(name)
    channel_id = client_id = phone_name = client_name = None
    waba_id = waba_external_id = portfolio_id = terminated_at = None
    if kind in CHANNEL_KINDS:
        waba_id, waba_external_id, portfolio_id = waba_facts(data)
        terminated_at = _first(data.get("terminated_at"))
        # A legacy body names the channel at the top level.
        channel_id = _first(data.get("channel_id"), event.get("channel_id"), data.get("id"))
        client_id = _first(data.get("client_id"), client.get("id"))
        phone_name = _first(setup.get("phone_name"), data.get("phone_name"))
        client_name = _first(client.get("name"))
    elif kind == "template":
        waba_id = _first(data.get("waba_account_id"), data.get("waba_id"), data.get("id"))
    elif kind == "client_created":
        client_id = _first(data.get("client_id"), client.get("id"), data.get("id"))
        client_name = _first(client.get("name"), data.get("name"))
    status = _first(data.get("status"))
    if status is None and name in IMPLIES_RUNNING:
        status = "running"
    phone_number = _first(setup.get("phone_number"), data.get("phone_number"))
    return WebhookEvent(
        event_type=name,
        kind=kind,
        channel_id=channel_id,
        client_id=client_id,
        status=status,
        quality_rating=_first(data.get("current_quality_rating"), data.get("quality_rating"), data.get("quality")),
        messaging_limit=_first(data.get("current_limit"), data.get("messaging_limit"), data.get("limit")),
        phone_number=phone_number,
        phone_name=phone_name,
        client_name=client_name,
        waba_id=waba_id,
        waba_external_id=waba_external_id,
        portfolio_id=portfolio_id,
        terminated_at=terminated_at,
        dedupe_key=dedupe_key(event),
        raw_body=raw_body if raw_body is not None else json.dumps(event, ensure_ascii=False),
        payload=event,
        phone_digits=phone_digits(phone_number) if kind == "account_alert" else None,
        numbers=written_numbers(event),
    )


def _kind(name: str) -> str:
    if name in KIND_BY_EVENT:
        return KIND_BY_EVENT[name]
    return "channel_event" if name.startswith("channel_") else "other"


def parse_webhook_body(body: bytes) -> list[WebhookEvent]:
    """One event object or an array of them; raises MalformedWebhook with the reason."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedWebhook("body is not UTF-8") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        # ValueError, not only JSONDecodeError: an integer of over 4300 digits is refused with a plain one.
        raise MalformedWebhook("body is not JSON") from None
    try:
        return _events_of(document, text)
    except RecursionError:
        # json.loads took it, but hashing or re-encoding it goes a few calls deeper.
        raise MalformedWebhook("the event is nested too deeply") from None


def _events_of(document: Any, text: str) -> list[WebhookEvent]:
    if "\\u" in text:
        # Only a JSON escape can give a lone surrogate (the strict UTF-8 decoding refuses encoded ones), so
        # without one the whole check, a second encoding of every event, is skipped.
        _refuse_unstorable(document)
    if isinstance(document, dict):
        return [_normalise(document, text)]
    if isinstance(document, list):
        if not document:
            raise MalformedWebhook("body is an empty array")
        if len(document) > MAX_EVENTS_PER_BODY:
            raise MalformedWebhook(f"body holds more than {MAX_EVENTS_PER_BODY} events")
        if not all(isinstance(item, dict) for item in document):
            raise MalformedWebhook("each event must be a JSON object")
        return [_normalise(item, None) for item in document]
    raise MalformedWebhook("body must be a JSON object or an array of objects")
