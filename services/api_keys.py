"""Generating a channel's Messaging API key: once per click, stored encrypted, every attempt audited."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from services import audit
from services.channels import get_channel
from services.partner_api import PartnerApi, PartnerApiError
from services.store import utc_now
from services.vault import KeyVault, last_four


class KeyNotAllowed(Exception):
    """The channel cannot get a key now; the message says why."""


@dataclass(frozen=True)
class KeyResult:
    channel_id: str
    api_key: str = field(repr=False)
    last4: str
    address: str
    app_id: str | None


def eligibility_problem(channel: dict[str, Any] | None) -> str | None:
    """None when a key may be generated for this channel, else the reason it may not."""
    if channel is None:
        return "unknown channel"
    if channel.get("revoked"):
        return "the client revoked this channel's permission"
    if channel.get("status") != "running":
        return f"the channel is {channel.get('status') or 'not known'}, keys can be generated once it is running"
    return None


def _claim(db: Database, channel_id: str, operator: str) -> int:
    try:
        with db.atomic():
            row = db["api_keys"].insert(
                {"channel_id": channel_id, "operator": operator, "created_at": utc_now(), "outcome": "pending"}
            )
    except sqlite3.IntegrityError:
        raise KeyNotAllowed("a key is already being generated for this channel") from None
    return int(row.last_pk)


def _store_success(db: Database, attempt_id: int, channel_id: str, vault: KeyVault, key: Any) -> None:
    with db.atomic():
        db.execute(
            "update api_keys set status = 'revoked' where channel_id = ? and status = 'active' and id != ?",
            [channel_id, attempt_id],
        )
        db["api_keys"].update(
            attempt_id,
            {
                "outcome": "ok",
                "status": "active",
                "app_id": key.app_id,
                "address": key.address,
                "key_encrypted": vault.seal(key.api_key),
                "key_last4": last_four(key.api_key),
            },
        )


def _store_failure(db: Database, attempt_id: int, outcome: str, error: str) -> None:
    with db.atomic():
        db["api_keys"].update(attempt_id, {"outcome": outcome, "error": error})


def generate_key(db: Database, api: PartnerApi, vault: KeyVault, channel_id: str, *, operator: str) -> KeyResult:
    """Generate a key for a running channel. Raises KeyNotAllowed or PartnerApiError (already audited)."""
    problem = eligibility_problem(get_channel(db, channel_id))
    if problem:
        raise KeyNotAllowed(problem)
    attempt_id = _claim(db, channel_id, operator)
    audit_id = audit.record(db, operator=operator, action="generate_key", channel_id=channel_id, outcome="started")
    try:
        key = api.generate_api_key(channel_id)
    except PartnerApiError as error:
        outcome = "unknown" if error.may_have_reached_server else "failed"
        _store_failure(db, attempt_id, outcome, error.message)
        audit.set_outcome(db, audit_id, outcome, error.message)
        raise
    except BaseException:
        _store_failure(db, attempt_id, "unknown", "interrupted after the request was sent")
        audit.set_outcome(db, audit_id, "unknown", "interrupted after the request was sent")
        raise
    _store_success(db, attempt_id, channel_id, vault, key)
    audit.set_outcome(db, audit_id, "ok", f"key ending {last_four(key.api_key)}")
    return KeyResult(channel_id, key.api_key, last_four(key.api_key), key.address, key.app_id)


def key_status(db: Database, channel_id: str) -> str:
    """none, active, unknown (an attempt whose result must be checked), or revoked."""
    rows = list(
        db.query(
            """
            select outcome, status from api_keys
            where channel_id = ? and outcome != 'failed' order by id desc limit 1
            """,
            [channel_id],
        )
    )
    if not rows:
        return "none"
    latest = rows[0]
    if latest["outcome"] in ("unknown", "pending"):
        return latest["outcome"]
    return latest["status"] or "none"
