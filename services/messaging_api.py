"""Client for the Messaging API a generated key opens (contract section 6): check the key, set and read back
the number's webhook.

The key travels only in the `D360-API-KEY` header of these calls; it is never part of a message, a log line
or an exception. Reads are retried like the Partner API's; the webhook POST is not (it is idempotent, but an
operator retries it visibly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from services.partner_api import MAX_DETAIL_LENGTH, read_retry
from services.settings_rules import is_loopback

# Meta's messaging health values, best first (WhatsApp Cloud API "health status").
CAN_SEND_VALUES = ("AVAILABLE", "LIMITED", "BLOCKED")
ENTITY_LABELS = {"PHONE_NUMBER": "phone number", "WABA": "WABA", "BUSINESS": "business", "APP": "app"}


class MessagingApiError(Exception):
    """A failed Messaging API call. `kind`: timeout, unreachable, refused_key, forbidden, not_found,
    rate_limited, server_error, bad_response, redirected, http_error, insecure."""

    def __init__(self, kind: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


@dataclass(frozen=True)
class EntityHealth:
    entity_type: str
    entity_id: str | None
    can_send_message: str


@dataclass(frozen=True)
class KeyHealth:
    can_send_message: str
    entities: tuple[EntityHealth, ...]
    problems: tuple[str, ...]

    @property
    def available(self) -> bool:
        return self.can_send_message == "AVAILABLE"

    def summary(self) -> str:
        """One line an operator reads: the overall verdict, each entity's, and Meta's reasons if any."""
        parts = [f"can send messages: {self.can_send_message}"]
        parts += [
            f"{ENTITY_LABELS.get(entity.entity_type, entity.entity_type.lower())}: {entity.can_send_message}"
            for entity in self.entities
        ]
        text = "; ".join(parts)
        if self.problems:
            text += " (" + "; ".join(self.problems) + ")"
        return text[:MAX_DETAIL_LENGTH]


@dataclass(frozen=True)
class WebhookConfig:
    url: str | None
    header_names: tuple[str, ...]


def _text(value: Any, default: str = "UNKNOWN") -> str:
    return value.strip().upper() if isinstance(value, str) and value.strip() else default


def _entity_problems(entity: dict[str, Any]) -> list[str]:
    errors = entity.get("errors")
    if not isinstance(errors, list):
        return []
    return [
        str(error.get("error_description") or error.get("error_code"))
        for error in errors
        if isinstance(error, dict) and (error.get("error_description") or error.get("error_code"))
    ]


def read_health(document: dict[str, Any]) -> KeyHealth:
    """Read a /health_status answer tolerantly: any field may be missing, nothing unknown is dropped."""
    health = document.get("health_status")
    if not isinstance(health, dict):
        raise MessagingApiError("bad_response", "The Messaging API's health answer held no health_status")
    entities, problems = [], []
    for entity in health.get("entities") or []:
        if not isinstance(entity, dict):
            continue
        entity_type = _text(entity.get("entity_type"))
        entity_id = entity.get("id") if isinstance(entity.get("id"), str) else None
        entities.append(EntityHealth(entity_type, entity_id, _text(entity.get("can_send_message"))))
        problems += _entity_problems(entity)
    return KeyHealth(_text(health.get("can_send_message")), tuple(entities), tuple(problems))


def _error_for_response(response: requests.Response) -> MessagingApiError:
    status = response.status_code
    if status == 401:
        return MessagingApiError(
            "refused_key", "The Messaging API refused the key (401): a newer key may have replaced it", status=status
        )
    if status == 403:
        return MessagingApiError("forbidden", "The Messaging API refused the request (403)", status=status)
    if status == 404:
        return MessagingApiError(
            "not_found", "The Messaging API has no such endpoint at this address (404)", status=status
        )
    if status == 429:
        return MessagingApiError(
            "rate_limited", "Rate limited by the Messaging API (429); try again later", status=status
        )
    if status >= 500:
        return MessagingApiError("server_error", f"The Messaging API failed ({status}); try again later", status=status)
    return MessagingApiError("http_error", f"Unexpected answer from the Messaging API ({status})", status=status)


class MessagingApi:
    def __init__(self, address: str, api_key: str, *, timeout: float = 10.0, require_https: bool = True) -> None:
        parts = urlsplit(address)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise MessagingApiError("insecure", "The key's Messaging API address is not an http(s) URL")
        # The key would cross the network in clear; only this machine (the sandbox) is exempt.
        if require_https and parts.scheme != "https" and not is_loopback(parts.hostname):
            raise MessagingApiError("insecure", f"The key's Messaging API address {parts.hostname} is not https")
        self.address = address.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._session = requests.Session()
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, HTTPAdapter(max_retries=read_retry()))

    def __repr__(self) -> str:
        return f"MessagingApi({self.address!r})"

    def __enter__(self) -> MessagingApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        self._api_key = ""

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._session.request(
                method,
                f"{self.address}{path}",
                json=body,
                headers={"D360-API-KEY": self._api_key},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise MessagingApiError("timeout", f"The Messaging API did not answer within {self.timeout:g} s") from None
        except requests.exceptions.RetryError:
            raise MessagingApiError("server_error", "The Messaging API kept failing; try again later") from None
        except requests.ConnectionError:
            raise MessagingApiError("unreachable", f"Cannot reach the Messaging API at {self.address}") from None
        if response.is_redirect:
            raise MessagingApiError(
                "redirected", f"The Messaging API answered {response.status_code} elsewhere; not followed with the key"
            )
        if response.status_code >= 400:
            raise _error_for_response(response)
        try:
            document = response.json()
        except ValueError:
            raise MessagingApiError(
                "bad_response", "The Messaging API answered with something that is not JSON"
            ) from None
        if not isinstance(document, dict):
            raise MessagingApiError("bad_response", "The Messaging API answered with an unexpected JSON shape")
        return document

    def health_status(self) -> KeyHealth:
        return read_health(self._request("GET", "/health_status"))

    def set_webhook(self, url: str, headers: dict[str, str] | None = None) -> None:
        body: dict[str, Any] = {"url": url}
        if headers:
            body["headers"] = headers
        self._request("POST", "/v1/configs/webhook", body)

    def webhook(self) -> WebhookConfig:
        document = self._request("GET", "/v1/configs/webhook")
        url = document.get("url")
        headers = document.get("headers")
        names = tuple(sorted(headers)) if isinstance(headers, dict) else ()
        return WebhookConfig(url if isinstance(url, str) and url else None, names)
