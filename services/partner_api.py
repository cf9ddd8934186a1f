"""Client for 360dialog's Partner API (contract section 4): auth, paging, errors that say what went wrong.

Reads are retried by urllib3 (backoff, Retry-After honoured); the key POST is never retried once it may
have reached the server, because a second POST would revoke the key the first one made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from services.settings import Settings
from services.settings_rules import is_loopback

DEFAULT_PAGE_SIZE = 100
# Where a key's Messaging API lives when the key answer names no `address` (contract section 4).
DEFAULT_MESSAGING_ADDRESS = "https://waba-v2.360dialog.io"
MAX_DETAIL_LENGTH = 300


class ApiError(Exception):
    """A failed call to one of 360dialog's APIs: `kind` names the failure class, `message` says it for an
    operator (never with a secret), `status` is the HTTP status when there was an answer."""

    # The API's name as an operator reads it in a message ("The Partner API answered ...").
    api_name: ClassVar[str] = "API"

    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        # Seconds a 429 asked to wait (its Retry-After), when it said so.
        self.retry_after = retry_after


class PartnerApiError(ApiError):
    """A failed Partner API call. `kind` is one of: timeout, unreachable, bad_request, unauthorized,
    forbidden, not_found, rate_limited, server_error, bad_response, http_error."""

    api_name = "Partner API"

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        may_have_reached_server: bool = False,
        detail: str = "",
    ) -> None:
        super().__init__(kind, message, status=status, retry_after=retry_after)
        # 360dialog's own words (its developer_message), when it gave any.
        self.detail = detail
        self.may_have_reached_server = may_have_reached_server


def answer_json(response: requests.Response, error_type: type[ApiError]) -> Any:
    """The answer's JSON, of any shape; a `bad_response` error of the API's own type when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise error_type(
            "bad_response", f"The {error_type.api_name} answered with something that is not JSON"
        ) from None


def answer_object(response: requests.Response, error_type: type[ApiError]) -> dict[str, Any]:
    """The answer's JSON object; a `bad_response` error of the API's own type when it is not JSON or not an
    object (every documented answer is one)."""
    document = answer_json(response, error_type)
    if not isinstance(document, dict):
        raise error_type("bad_response", f"The {error_type.api_name} answered with an unexpected JSON shape")
    return document


# What the operator should do next, per failure class; the error's own message says what happened.
NEXT_STEP = {
    "timeout": "The answer may still come: check the channel's key state before trying again.",
    "unreachable": "Check the network and D360_API_BASE_URL (in demo mode: is the sandbox hub running?).",
    "bad_request": "The request was refused as malformed; nothing was changed.",
    "unauthorized": "Fix the credentials in the settings, then restart the console.",
    "forbidden": "360dialog refused this request for the reason it gave; the next attempt asks again. A Direct-Paid "
    "client grants key permission in its own hub or through the onboarding link.",
    "not_found": "The channel or partner id is not known to 360dialog: check D360_PARTNER_ID and sync the channels.",
    "rate_limited": "Wait before trying again.",
    "server_error": "360dialog is failing on its side; try again later.",
    "bad_response": "360dialog answered in an unexpected shape; nothing was stored from it.",
    "http_error": "Try again; if it persists, check 360dialog's status page.",
    "redirected": "Check D360_API_BASE_URL: the console never follows the Partner API elsewhere with its key.",
    "invalid_id": "Nothing was sent: the id holds characters 360dialog ids never have.",
}
# 360dialog ids are short mixed-case strings (contract sections 2 and 4); anything else never reaches a URL.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UNKNOWN_OUTCOME_STEP = (
    "The key request may have reached 360dialog: the channel shows 'check key state'. Generating again "
    "revokes any key made by that request."
)


def operator_message(error: PartnerApiError) -> str:
    """One specific sentence for the UI: what happened and what to do; never a secret, never a trace."""
    step = UNKNOWN_OUTCOME_STEP if error.may_have_reached_server else NEXT_STEP.get(error.kind, "")
    return f"{error.message.rstrip('.')}. {step}".strip()


def path_id(value: str, what: str) -> str:
    """An id for a URL path: refused before any request when it is not an id, and percent-encoded anyway."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise PartnerApiError("invalid_id", f"The {what} is not a 360dialog id")
    return quote(value, safe="")


@dataclass(frozen=True)
class GeneratedKey:
    api_key: str = field(repr=False)
    address: str
    app_id: str | None
    key_id: str | None


def _developer_message(response: requests.Response) -> str:
    try:
        meta = response.json().get("meta", {})
    except (ValueError, AttributeError):
        return ""
    message = meta.get("developer_message") if isinstance(meta, dict) else None
    if not isinstance(message, str):
        return ""
    return message[:MAX_DETAIL_LENGTH]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_for_response(response: requests.Response) -> PartnerApiError:
    status = response.status_code
    detail = _developer_message(response)
    suffix = f": {detail}" if detail else ""
    if status == 400:
        return PartnerApiError("bad_request", f"The Partner API rejected the request (400){suffix}", status=status)
    if status == 401:
        return PartnerApiError(
            "unauthorized",
            "The Partner API rejected the console's credentials (401): check D360_PARTNER_API_KEY "
            "or D360_USERNAME/D360_PASSWORD",
            status=status,
        )
    if status == 403:
        return PartnerApiError(
            "forbidden", f"Refused by 360dialog (403){suffix or ': Forbidden'}", status=status, detail=detail
        )
    if status == 404:
        return PartnerApiError("not_found", f"Not found at 360dialog (404){suffix}", status=status)
    if status == 429:
        wait = _retry_after(response)
        hint = f"; retry after {wait:.0f} s" if wait is not None else "; retry in a moment"
        return PartnerApiError(
            "rate_limited", f"Rate limited by the Partner API (429){hint}", status=status, retry_after=wait
        )
    if status >= 500:
        return PartnerApiError("server_error", f"The Partner API failed ({status}); try again later", status=status)
    return PartnerApiError("http_error", f"Unexpected answer from the Partner API ({status}){suffix}", status=status)


def read_retry() -> Retry:
    """GETs only: a repeated write could undo or double what the first one did."""
    return Retry(
        total=3,
        connect=3,
        read=2,
        status=3,
        backoff_factor=0.3,
        backoff_max=5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class PartnerApi:
    @classmethod
    def from_settings(cls, settings: Settings) -> PartnerApi:
        """The client every process uses: the configured base, partner and credentials."""
        return cls(
            settings.api_base_url,
            settings.partner_id,
            api_key=settings.partner_api_key,
            username=settings.username,
            password=settings.password,
            timeout=settings.http_timeout_seconds,
            require_https=not settings.demo_mode,
        )

    def __init__(
        self,
        base_url: str,
        partner_id: str,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        require_https: bool = False,
    ) -> None:
        if not api_key and not (username and password):
            raise ValueError("PartnerApi needs an API key or a username and password")
        if not ID_PATTERN.match(partner_id):
            raise ValueError("the partner id is not a 360dialog id")
        parts = urlsplit(base_url)
        # Plain http stays on this machine only (a local stand-in for 360dialog).
        if require_https and parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            raise ValueError("the Partner API base URL must be https outside demo mode")
        self.base_url = base_url.rstrip("/")
        self.partner_id = partner_id
        self.timeout = timeout
        self._api_key = api_key
        self._username = username
        self._password = password
        self._token: str | None = None
        self._session = requests.Session()
        self._session.mount("http://", HTTPAdapter(max_retries=read_retry()))
        self._session.mount("https://", HTTPAdapter(max_retries=read_retry()))

    def __repr__(self) -> str:
        return f"PartnerApi({self.base_url!r}, {self.partner_id!r})"

    def close(self) -> None:
        self._session.close()

    # -- auth --------------------------------------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        if self._api_key:
            return {"X-API-Key": self._api_key}
        if self._token is None:
            self._token = self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    def _fetch_token(self) -> str:
        response = self._send(
            "POST", "/token", json_body={"username": self._username, "password": self._password}, authenticated=False
        )
        if response.status_code >= 400:
            raise error_for_response(response)
        token = self._json(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise PartnerApiError("bad_response", "The Partner API's /token answer held no access_token")
        return token

    # -- transport ---------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        authenticated: bool = True,
    ) -> requests.Response:
        headers = self._auth_headers() if authenticated else {}
        try:
            response = self._session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=json_body,
                headers=headers,
                timeout=self.timeout,
                # A redirect would carry the key to wherever it points.
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            raise PartnerApiError("unreachable", f"Cannot reach the Partner API at {self.base_url}") from None
        except requests.Timeout:
            raise PartnerApiError(
                "timeout", f"The Partner API did not answer within {self.timeout:g} s", may_have_reached_server=True
            ) from None
        except requests.exceptions.RetryError:
            raise PartnerApiError("server_error", "The Partner API kept failing; try again later") from None
        except requests.ConnectionError:
            raise PartnerApiError(
                "unreachable",
                f"Cannot reach the Partner API at {self.base_url}",
                may_have_reached_server=method != "GET",
            ) from None
        if response.is_redirect:
            host = urlsplit(response.headers.get("Location", "")).hostname or "an unnamed place"
            raise PartnerApiError(
                "redirected",
                f"The Partner API answered {response.status_code}, pointing to {host}; not followed",
                status=response.status_code,
                may_have_reached_server=method != "GET",
            )
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and not self._api_key:
            # Token lifetime is not documented: authenticate again, once.
            self._token = None
            response = self._send(method, path, **kwargs)
        if response.status_code >= 400:
            raise error_for_response(response)
        return response

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        return answer_object(response, PartnerApiError)

    # -- endpoints ---------------------------------------------------------------------------------
    def list_channels(
        self,
        *,
        filters: dict[str, Any] | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        sort: str | None = None,
    ) -> dict[str, Any]:
        document = self._list_page("channels", filters=filters, limit=limit, offset=offset, sort=sort)
        if not isinstance(document.get("partner_channels"), list):
            raise PartnerApiError("bad_response", "The channels answer held no partner_channels list")
        return document

    def iter_channels(
        self, *, filters: dict[str, Any] | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[tuple[dict[str, Any], int]]:
        """Every channel, page by page, with the total the API reports (for progress bars)."""
        offset = 0
        while True:
            page = self.list_channels(filters=filters, limit=page_size, offset=offset, sort="created_at")
            channels = page["partner_channels"]
            total = int(page.get("total") or 0)
            for channel in channels:
                yield channel, total
            offset += len(channels)
            if not channels or offset >= total:
                return

    def list_clients(
        self,
        *,
        filters: dict[str, Any] | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        sort: str | None = None,
    ) -> dict[str, Any]:
        return self._list_page("clients", filters=filters, limit=limit, offset=offset, sort=sort)

    def _list_page(
        self, collection: str, *, filters: dict[str, Any] | None, limit: int, offset: int, sort: str | None
    ) -> dict[str, Any]:
        # The API takes `filters` as one JSON object in a query parameter (contract section 4).
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if filters:
            params["filters"] = json.dumps(filters, separators=(",", ":"))
        if sort:
            params["sort"] = sort
        return self._json(self._request("GET", f"/partners/{self.partner_id}/{collection}", params=params))

    def generate_api_key(self, channel_id: str) -> GeneratedKey:
        path = f"/partners/{self.partner_id}/channels/{path_id(channel_id, 'channel id')}/api_keys"
        response = self._request("POST", path)
        document = self._json(response)
        # An older documented shape wraps the key in a list.
        if isinstance(document.get("api_keys"), list) and document["api_keys"]:
            document = document["api_keys"][0]
        api_key = document.get("api_key")
        if not isinstance(api_key, str) or not api_key:
            raise PartnerApiError(
                "bad_response", "The Partner API's key answer held no api_key", may_have_reached_server=True
            )
        # An answer with a key has made it (and revoked the older ones): it is kept whatever else is missing.
        address = document.get("address")
        return GeneratedKey(
            api_key=api_key,
            address=address if isinstance(address, str) and address else DEFAULT_MESSAGING_ADDRESS,
            app_id=document.get("app_id") if isinstance(document.get("app_id"), str) else None,
            key_id=document.get("id") if isinstance(document.get("id"), str) else None,
        )

    def update_client(self, client_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        path = f"/partners/{self.partner_id}/clients/{path_id(client_id, 'client id')}"
        return self._json(self._request("PATCH", path, json_body=changes))

    def shared_client_numbers(self, client_id: str) -> Any:
        """Which of the client's numbers the partner may generate keys for (shape unconfirmed: the JSON as sent,
        object or list)."""
        path = f"/partners/{self.partner_id}/clients/{path_id(client_id, 'client id')}/shared_client_numbers"
        return answer_json(self._request("GET", path), PartnerApiError)

    def update_partner(
        self, *, webhook_url: str | None = None, partner_redirect_url: str | None = None
    ) -> dict[str, Any]:
        changes = {"webhook_url": webhook_url, "partner_redirect_url": partner_redirect_url}
        body = {name: value for name, value in changes.items() if value is not None}
        return self._json(self._request("PATCH", f"/partners/{self.partner_id}", json_body=body))

    def get_webhook_url(self) -> str | None:
        value = self._json(self._request("GET", f"/partners/{self.partner_id}/webhook_url")).get("webhook_url")
        return value if isinstance(value, str) else None

    def set_webhook_url(self, webhook_url: str) -> dict[str, Any]:
        path = f"/partners/{self.partner_id}/webhook_url"
        return self._json(self._request("POST", path, json_body={"webhook_url": webhook_url}))
