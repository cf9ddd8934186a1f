"""The sandbox hub's core: its one database connection, its credentials checks, and webhook delivery."""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from sqlite_utils import Database

from services.sandbox import outbox, state
from services.sandbox.signing import (
    IO_SIGNATURE_LIFETIME_SECONDS,
    WEBHOOK_SIGNATURE_HEADER,
    io_signature_valid,
    webhook_signature,
)
from services.settings import Settings

log = logging.getLogger("sandbox")
DELIVERY_TIMEOUT_SECONDS = 5.0
DELIVERY_BATCH = 50
# A round ends after this long (the rest waits for the next), so a slow receiver cannot hold a reset back.
DELIVERY_ROUND_SECONDS = 2.0


class SandboxHub:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        # Tests move it to see a signature expire; the hub reads the time only through it for signatures.
        self.clock = clock
        self._db: Database | None = None
        self._lock = threading.Lock()
        # IO attempts started (the form shown) and not yet finished, by a one-time code the form carries back.
        self._attempts: dict[str, str] = {}
        # Held for a whole delivery round, so that a reset never races webhooks already on their way.
        self._delivery_lock = threading.Lock()

    def run(self, work: Callable[[Database], Any]) -> Any:
        """Run a piece of database work under the hub's single connection."""
        with self._lock:
            if self._db is None:
                self._db = state.open_sandbox_db(self.settings.sandbox_db_path)
            return work(self._db)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- credentials -------------------------------------------------------------------------------
    def api_key_matches(self, supplied: str) -> bool:
        expected = self.settings.partner_api_key or ""
        return bool(supplied) and bool(expected) and hmac.compare_digest(supplied.encode(), expected.encode())

    def login_matches(self, username: str, password: str) -> bool:
        """Legacy login: the sandbox username, and the demo partner API key as the password."""
        name_ok = hmac.compare_digest(username.encode(), self.settings.sandbox_username.encode())
        return self.api_key_matches(password) and name_ok

    def bearer_is_valid(self, token: str) -> bool:
        return bool(token) and self.run(lambda db: state.token_is_valid(db, token))

    # -- IO signature ------------------------------------------------------------------------------
    def signature_problem(self, partner_id: str, params: dict[str, str], attempt: str | None = None) -> str | None:
        """Why the link's IO Signature is refused; None when it is accepted. 360dialog: a signature "becomes
        invalid after 24 hours, or when it has been used once to start IO". The form of an attempt this
        signature started carries its `attempt` code, which lets that one attempt finish."""
        if not self.settings.io_signature_enabled:
            return None
        signature, raw_timestamp = params.get("io_signature"), params.get("io_timestamp")
        if not signature or not raw_timestamp:
            return "This partner requires an IO Signature, and the link carries none."
        try:
            timestamp = int(raw_timestamp)
        except ValueError:
            return "The link's io_timestamp is not a number."
        if self.clock() - timestamp > IO_SIGNATURE_LIFETIME_SECONDS:
            return "The link's IO Signature has expired (older than 24 hours). Ask for a new link."
        secret, encoding = self.settings.platform_secret, self.settings.io_signature_encoding
        if not io_signature_valid(partner_id, timestamp, signature, secret, encoding):
            return "The link's IO Signature is not valid for this partner."
        if attempt is not None and self._attempt_of(attempt) == signature:
            return None
        if self.run(lambda db: state.signature_used(db, signature)):
            return "This link was already used. Each IO link works once; ask for a new one."
        return None

    def start_io(self, params: dict[str, str]) -> str | None:
        """Use the link's signature to start IO: it will not start another. The code the form carries back to
        finish this attempt; None when the partner signs nothing or the signature was used meanwhile."""
        signature = params.get("io_signature")
        if not self.settings.io_signature_enabled or not signature:
            return None
        if not self.run(lambda db: state.consume_signature(db, signature)):
            return None
        attempt = secrets.token_urlsafe(16)
        with self._lock:
            self._attempts[attempt] = signature
        return attempt

    def finish_io(self, attempt: str | None) -> None:
        if attempt:
            with self._lock:
                self._attempts.pop(attempt, None)

    def _attempt_of(self, attempt: str) -> str | None:
        with self._lock:
            return self._attempts.get(attempt)

    # -- webhook delivery --------------------------------------------------------------------------
    def switches(self) -> dict[str, bool]:
        defaults = {"send_twice": self.settings.sandbox_send_twice, "out_of_order": self.settings.sandbox_out_of_order}
        return self.run(lambda db: state.switches(db, defaults))

    def webhook_target(self) -> str:
        """The partner's webhook URL when set through the Partner API, else the console's receiver."""
        partner = self.run(lambda db: state.partner_settings(db, self.settings.partner_id))
        return partner["webhook_url"] or self.settings.webhook_url

    def _post(self, url: str, body: bytes) -> str | None:
        """POST one signed body; None when the receiver answered 2xx, else what went wrong."""
        try:
            response = requests.post(
                url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    WEBHOOK_SIGNATURE_HEADER: webhook_signature(body, self.settings.platform_secret),
                },
                timeout=DELIVERY_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            return f"receiver unreachable: {type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"receiver answered {response.status_code}"

    def reset(self) -> None:
        """Forget everything, after any delivery round in progress has finished."""
        with self._delivery_lock:
            self.run(state.reset)

    def deliver_due(self) -> int:
        """Send every webhook whose time has come; failures are retried later with backoff."""
        with self._delivery_lock:
            return self._deliver_round()

    def _deliver_round(self) -> int:
        switches = self.switches()
        # Out of order: hold each event back long enough that a channel's next one is due with it.
        hold = max(1.0, self.settings.sandbox_running_delay_seconds) if switches["out_of_order"] else 0.0
        deliveries = self.run(
            lambda db: outbox.due_deliveries(db, DELIVERY_BATCH, out_of_order=switches["out_of_order"], hold=hold)
        )
        if not deliveries:
            return 0
        url = self.webhook_target()
        started = time.monotonic()
        for sent, delivery in enumerate(deliveries):
            if time.monotonic() - started > DELIVERY_ROUND_SECONDS:
                return sent
            self.run(lambda db, d=delivery: outbox.apply_delivery_status(db, d))
            body = delivery["body"].encode()
            error = self._post(url, body)
            if error is None and switches["send_twice"]:
                error = self._post(url, body)
            if error is None:
                self.run(lambda db, d=delivery: outbox.mark_delivered(db, d["id"]))
            else:
                self.run(lambda db, d=delivery, e=error: outbox.mark_failed(db, d, e))
        return len(deliveries)
