"""Client for the Messaging API a generated key opens (contract section 6): check the key, set and read back
the number's webhook.

The key travels only in the `D360-API-KEY` header of these calls, and only to an address on a host
CONSOLE_MESSAGING_API_HOSTS allows (`destination_problem`): the key answer that names the address is not
trusted to choose where the key goes. It is never part of a message, a log line or an exception. Reads are
retried like the Partner API's; the webhook POST is not (it is idempotent, but an operator retries it visibly).

The messaging webhook URL may carry a token (in its query or as credentials): `redacted_url` is what the
console shows and stores of it; the whole URL goes to 360dialog only."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
from requests.adapters import HTTPAdapter

from services.partner_api import MAX_DETAIL_LENGTH, ApiError, answer_object, read_retry
from services.settings_rules import is_loopback

# Meta's messaging health values, best first (WhatsApp Cloud API "health status").
CAN_SEND_VALUES = ("AVAILABLE", "LIMITED", "BLOCKED")
ENTITY_LABELS = {"PHONE_NUMBER": "phone number", "WABA": "WABA", "BUSINESS": "business", "APP": "app"}
# Where a key may go unless CONSOLE_MESSAGING_API_HOSTS says otherwise (contract section 6).
DEFAULT_MESSAGING_API_HOSTS = ("*.360dialog.io",)
# A host name as DNS spells it: ASCII labels of letters, digits and inner hyphens, no empty label, no
# trailing dot. Anything else (an IDN, '%2e', a backslash, '_') is refused rather than normalised.
HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PATTERN_PORT = re.compile(r"^(?P<host>[^:\[\]]+):(?P<port>[0-9]{1,5})$")
DEFAULT_HTTPS_PORT = 443


class MessagingApiError(ApiError):
    """A failed Messaging API call. `kind`: timeout, unreachable, refused_key, forbidden, not_found, not_allowed,
    rate_limited, server_error, bad_response, redirected, http_error, refused_host (the key was not sent).
    A 429's Retry-After counts only when given in whole seconds."""

    api_name = "Messaging API"
    # The answer's own words (error_reason), key hidden; empty when it gave none. Set once the answer is read.
    reason: str = ""


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


def error_reason(document: Any) -> str:
    """The reason an error body gives, in any shape seen: `{"error": "..."}` (360dialog's Messaging API),
    `{"error": {"message": ...}}` (Meta's Cloud API) or `{"meta": {"developer_message": ...}}` (the Partner API's
    shape); empty when it gives none."""
    if not isinstance(document, dict):
        return ""
    error, meta = document.get("error"), document.get("meta")
    candidates = [
        error,
        error.get("message") if isinstance(error, dict) else None,
        error.get("error_user_msg") if isinstance(error, dict) else None,
        meta.get("developer_message") if isinstance(meta, dict) else None,
        # 360dialog's error-messages page spells it in camel case ({"meta": {"developerMessage": ...}}).
        meta.get("developerMessage") if isinstance(meta, dict) else None,
    ]
    reason = next((value.strip() for value in candidates if isinstance(value, str) and value.strip()), "")
    return " ".join(reason.split())[:MAX_DETAIL_LENGTH]


def _answer_reason(response: requests.Response, api_key: str) -> str:
    try:
        reason = error_reason(response.json())
    except ValueError:
        return ""
    # An echo of the request must not carry the key into a message, a step's detail or an alert.
    if api_key and api_key in reason:
        reason = reason.replace(api_key, "[key hidden]")
    return reason


def _retry_after(response: requests.Response) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    return float(value) if value.isdigit() else None


def _error_for_response(response: requests.Response, api_key: str = "") -> MessagingApiError:
    reason = _answer_reason(response, api_key)
    error = _error_for_status(response, reason)
    error.reason = reason
    return error


def _error_for_status(response: requests.Response, reason: str) -> MessagingApiError:
    status = response.status_code
    why = f": {reason}" if reason else ""
    if status == 401:
        return MessagingApiError(
            "refused_key",
            f"The Messaging API refused the key (401){why or ': a newer key may have replaced it'}",
            status=status,
        )
    if status == 403:
        return MessagingApiError("forbidden", f"The Messaging API refused the request (403){why}", status=status)
    if status == 404:
        return MessagingApiError(
            "not_found", f"The Messaging API has no such endpoint at this address (404){why}", status=status
        )
    if status == 405:
        return MessagingApiError(
            "not_allowed", f"The Messaging API does not offer this method here (405){why}", status=status
        )
    if status == 429:
        return MessagingApiError(
            "rate_limited",
            f"Rate limited by the Messaging API (429){why}; try again later",
            status=status,
            retry_after=_retry_after(response),
        )
    if status >= 500:
        return MessagingApiError(
            "server_error", f"The Messaging API failed ({status}){why}; try again later", status=status
        )
    return MessagingApiError("http_error", f"The Messaging API refused the request ({status}){why}", status=status)


def redacted_url(url: str) -> str:
    """A URL as the console may show, store, log or alert it: credentials and the query (where a token lives)
    replaced by a note, the fragment dropped; scheme, host, port and path kept so an operator can recognise it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an address that is not a URL)"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "[credentials hidden]@" + netloc.rpartition("@")[2]
    prefix = f"{parts.scheme}://" if parts.scheme else ""
    query = "?[query hidden]" if parts.query else ""
    return f"{prefix}{netloc}{parts.path}{query}"


def _is_plain_host(host: str) -> bool:
    labels = host.split(".")
    return len(host) <= 253 and len(labels) >= 2 and all(HOST_LABEL.match(label) for label in labels)


def _pattern_parts(pattern: str) -> tuple[str, int]:
    """'host-pattern' or 'host-pattern:port'; without a port, https's own."""
    match = PATTERN_PORT.match(pattern)
    if match:
        return match["host"].lower(), int(match["port"])
    return pattern.lower(), DEFAULT_HTTPS_PORT


def host_allowed(host: str, port: int | None, allowed_hosts: Iterable[str]) -> bool:
    """Whether `host` (already lowercased and plain) on `port` matches one of the shell-style patterns.

    `*` stands for one or more whole labels: "*.360dialog.io" matches "waba-v2.360dialog.io" and
    "a.b.360dialog.io", never "360dialog.io" itself (list it to allow it). A port other than 443 only when a
    pattern names it ("api.example.com:8443")."""
    port = DEFAULT_HTTPS_PORT if port is None else port
    for pattern in allowed_hosts:
        name, wanted_port = _pattern_parts(pattern)
        if port == wanted_port and fnmatchcase(host, name):
            return True
    return False


def _split(address: str) -> SplitResult | None:
    # One spelling only: the URL parser, requests and DNS must all read the same host. Anything a parser
    # might normalise differently (non-ASCII, '%', a backslash, whitespace or control characters) is refused.
    if not address.isascii() or not address.isprintable() or any(char in address for char in " %\\"):
        return None
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    return parts


def destination_problem(address: object, allowed_hosts: Iterable[str], *, demo_mode: bool) -> str | None:
    """None when a key may be sent to `address`, else why not, in words that name the host (a host is not a
    secret; the key is never named). https on an allowed host; this machine (http allowed) in demo mode only."""
    parts = _split(address) if isinstance(address, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "its Messaging API address is not a plain http(s) URL"
    if "@" in parts.netloc:
        return "its Messaging API address carries credentials (user@host)"
    if parts.query or parts.fragment or "?" in address or "#" in address:
        return "its Messaging API address carries a query or a fragment"
    host = parts.hostname
    if is_loopback(host):
        return None if demo_mode else f"its Messaging API address names this machine ({host}): demo mode only"
    if not _is_plain_host(host):
        return "its Messaging API address names something that is not a plain host name"
    if parts.scheme != "https":
        return f"its Messaging API address on {host} is not https: the key would cross the network in clear"
    if not host_allowed(host, parts.port, allowed_hosts):
        where = host if parts.port is None else f"{host}:{parts.port}"
        return f"its Messaging API address names {where}, a host CONSOLE_MESSAGING_API_HOSTS does not allow"
    return None


class MessagingApi:
    def __init__(
        self,
        address: str,
        api_key: str,
        *,
        allowed_hosts: Iterable[str] = DEFAULT_MESSAGING_API_HOSTS,
        demo_mode: bool = False,
        timeout: float = 10.0,
        retry_reads: bool = True,
    ) -> None:
        """Refuses (kind `refused_host`) before anything is sent when the key may not go to `address`.
        `retry_reads=False` makes one attempt only: a caller that checks again on its own schedule (key health)
        must not sit out a long Retry-After inside one call."""
        problem = destination_problem(address, allowed_hosts, demo_mode=demo_mode)
        if problem:
            raise MessagingApiError("refused_host", f"The key was not sent: {problem}")
        self.address = address.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._session = requests.Session()
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, HTTPAdapter(max_retries=read_retry() if retry_reads else 0))

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
            raise _error_for_response(response, self._api_key)
        return answer_object(response, MessagingApiError)

    def health_status(self) -> KeyHealth:
        return read_health(self._request("GET", "/health_status"))

    def set_webhook(self, url: str, headers: dict[str, str] | None = None) -> WebhookConfig:
        """Set the number's messaging webhook; returns what 360dialog's answer echoes (its documented
        confirmation), with no url when the answer echoes none."""
        body: dict[str, Any] = {"url": url}
        if headers:
            body["headers"] = headers
        return _webhook_config(self._request("POST", "/v1/configs/webhook", body))

    def webhook(self) -> WebhookConfig:
        """Read the webhook back. Not in 360dialog's waba-v2 reference: a 404 or 405 means it is not offered."""
        return _webhook_config(self._request("GET", "/v1/configs/webhook"))


def _webhook_config(document: dict[str, Any]) -> WebhookConfig:
    url = document.get("url")
    headers = document.get("headers")
    names = tuple(sorted(headers)) if isinstance(headers, dict) else ()
    return WebhookConfig(url if isinstance(url, str) and url else None, names)
