"""The console's HTTP client for the sandbox hub's demo controls (demo mode only)."""

from __future__ import annotations

from typing import Any

import requests

from services.settings import Settings

ADMIN_PATH = "/sandbox/admin"


class SandboxError(Exception):
    """A demo control failed; the message says why (never a credential)."""


class SandboxClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["X-API-Key"] = api_key

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxClient:
        if not settings.demo_mode or not settings.partner_api_key:
            raise SandboxError("the sandbox hub exists only in demo mode")
        # Seeding a scenario takes a few seconds more than an ordinary call.
        return cls(settings.sandbox_url, settings.partner_api_key, timeout=max(settings.http_timeout_seconds, 30.0))

    def __repr__(self) -> str:
        return f"SandboxClient({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        url = f"{self.base_url}{ADMIN_PATH}{path}"
        try:
            response = self._session.request(method, url, json=body, params=params or None, timeout=self.timeout)
        except requests.Timeout:
            raise SandboxError(f"the sandbox hub did not answer within {self.timeout:g} s") from None
        except requests.RequestException:
            raise SandboxError(f"cannot reach the sandbox hub at {self.base_url}; is it running?") from None
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.status_code >= 400:
            meta = document.get("meta", {}) if isinstance(document, dict) else {}
            detail = meta.get("developer_message") if isinstance(meta, dict) else None
            raise SandboxError(f"the sandbox hub refused ({response.status_code}): {detail or 'no detail'}")
        if not isinstance(document, dict):
            raise SandboxError("the sandbox hub answered with something that is not a JSON object")
        return document

    # -- what Meta or the client does ----------------------------------------------------------------
    def change_quality(self, channel_id: str, *, quality: str, limit: str) -> int:
        return int(
            self._call("POST", f"/channels/{channel_id}/quality", {"quality": quality, "limit": limit})["outbox_id"]
        )

    def account_violation(self, channel_id: str) -> int:
        return int(self.account_alert(channel_id, "account_violation")["outbox_id"])

    def account_alert(self, channel_id: str, event: str) -> dict[str, Any]:
        """Meta flags (account_violation) or restricts (account_restriction) the channel's number; the answer
        names the number the event carries."""
        path = {"account_violation": "violation", "account_restriction": "restriction"}[event]
        return self._call("POST", f"/channels/{channel_id}/{path}")

    def template_status_change(self, channel_id: str, status: str) -> dict[str, Any]:
        """Meta decides on a template of the channel's WABA; the answer names the WABA and the template."""
        return self._call("POST", f"/channels/{channel_id}/template", {"status": status})

    def cancellation(self, channel_id: str, step: str) -> dict[str, Any]:
        """The client asks to cancel the number (`step` request), withdraws the request (revoke), or 360dialog
        processes it (process: the channel object then carries terminated_at); the answer names the event."""
        return self._call("POST", f"/channels/{channel_id}/cancellation", {"step": step})

    def change_portfolio_limit(self, client_id: str, limit: str) -> dict[str, Any]:
        """Meta sets the messaging limit of the client's business portfolio: every one of its numbers takes it.
        The answer names the portfolio and its channels."""
        return self._call("POST", f"/clients/{client_id}/limit", {"limit": limit})

    def revoke(self, channel_id: str) -> str:
        """The client withdraws permission; returns the redirect query the hub sends back."""
        return str(self._call("POST", f"/channels/{channel_id}/revoke")["redirect_query"])

    def regenerate_key(self, channel_id: str) -> dict[str, Any]:
        """The client generates its own key for the channel in its hub: every key the partner holds stops working.
        The answer names the number, its business and how many keys stopped."""
        return self._call("POST", f"/channels/{channel_id}/regenerate-key")

    def grant(self, channel_id: str) -> None:
        """The client grants key permission in its own hub: no event, no redirect."""
        self._call("POST", f"/channels/{channel_id}/grant")

    def onboard(self, name: str, numbers: list[str], *, never_running: bool = False) -> dict[str, Any]:
        return self._call("POST", "/onboard", {"name": name, "numbers": numbers, "never_running": never_running})

    # -- the outbox and its switches -----------------------------------------------------------------
    def outbox(self, limit: int = 200) -> list[dict[str, Any]]:
        return list(self._call("GET", "/outbox", limit=limit)["events"])

    def resend(self, outbox_id: int) -> int:
        return int(self._call("POST", f"/outbox/{int(outbox_id)}/resend")["outbox_id"])

    def switches(self) -> dict[str, bool]:
        return {name: bool(value) for name, value in self._call("GET", "/switches").items()}

    def set_switches(self, **values: bool) -> dict[str, bool]:
        return {name: bool(value) for name, value in self._call("POST", "/switches", values).items()}

    # -- the demo's alert inbox, where the console's alerts land in demo mode ---------------------------
    def inbox(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest alerts the hub received, newest first: received_at, title, message, type."""
        return list(self._call("GET", "/inbox", limit=limit)["messages"])

    # -- the whole demo ------------------------------------------------------------------------------
    def reset(self) -> None:
        self._call("POST", "/reset")

    def seed(self, seed: int | None = None) -> dict[str, Any]:
        """Add the demo scenario to the hub; its webhooks wait until `release_webhooks`."""
        return self._call("POST", "/seed", {"seed": seed} if seed is not None else {})

    def release_webhooks(self) -> int:
        return int(self._call("POST", "/outbox/release")["released"])
