"""Generating a channel's Messaging API key: once per click, stored encrypted, every attempt audited."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.channels.endings import ended_reason
from services.channels.permission import clear_refusal, record_refusal
from services.channels.projection import get_channel
from services.keys.generation_lock import LockBusy, hold_generation_lock, is_abandoned
from services.keys.vault import KeyVault, last_four
from services.partner_api import PartnerApi, PartnerApiError
from services.store import is_busy, utc_now

KEY_STORE_DEADLINE_SECONDS = 300


class KeyNotAllowed(Exception):
    """The channel cannot get a key now; the message says why."""


@dataclass(frozen=True)
class KeyResult:
    channel_id: str
    api_key: str = field(repr=False)
    last4: str
    address: str
    app_id: str | None


def eligibility_problem(channel: dict[str, Any] | None, *, direct_paid: bool = False) -> str | None:
    """None when a key may be generated for this channel, else the reason it may not."""
    if channel is None:
        return "unknown channel"
    if channel.get("revoked"):
        return "the client revoked this channel's permission"
    ended = ended_reason(channel)
    if ended:
        return ended
    if channel.get("status") != "running":
        return f"the channel is {channel.get('status') or 'not known'}, keys can be generated once it is running"
    if direct_paid and channel.get("permission") != "granted":
        why = channel.get("permission_detail") or "redirect pending"
        return f"Direct-Paid partner: the client has not granted key permission for this channel ({why})"
    return None


def has_active_key(db: Database, channel_id: str) -> bool:
    return bool(db["api_keys"].count_where("channel_id = ? and status = 'active'", [channel_id]))


def _claim(db: Database, channel_id: str, actor: Person) -> int:
    try:
        with db.atomic():
            row = db["api_keys"].insert(
                {"channel_id": channel_id, "operator": actor.id, "created_at": utc_now(), "outcome": "pending"}
            )
    except sqlite3.IntegrityError:
        raise KeyNotAllowed("a key is already being generated for this channel") from None
    return int(row.last_pk)


# 360dialog has made the key and revoked the older ones: storing it must outlast any wait for the database.
@retry(
    retry=retry_if_exception(is_busy),
    stop=stop_after_delay(KEY_STORE_DEADLINE_SECONDS),
    wait=wait_random_exponential(multiplier=0.2, max=5),
    reraise=True,
)
def _store_success(db: Database, attempt_id: int, channel_id: str, vault: KeyVault, key: Any) -> int:
    """Store the new key and mark the ones it replaced revoked; returns how many it replaced."""
    with db.atomic():
        replaced = db.execute(
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
    return replaced.rowcount


def _store_failure(db: Database, attempt_id: int, outcome: str, error: str) -> None:
    with db.atomic():
        db["api_keys"].update(attempt_id, {"outcome": outcome, "error": error})


def generate_key(
    db: Database,
    api: PartnerApi,
    vault: KeyVault,
    channel_id: str,
    *,
    actor: Person,
    direct_paid: bool = False,
    replace_existing: bool = False,
) -> KeyResult:
    """Generate a key for a running channel. Raises NotAllowed, KeyNotAllowed or PartnerApiError (already audited).

    A new key revokes the channel's current one at 360dialog, so that needs `replace_existing=True`.
    """
    enforce(db, actor, "generate_key", channel_id=channel_id)
    problem = eligibility_problem(get_channel(db, channel_id), direct_paid=direct_paid)
    if problem:
        raise KeyNotAllowed(problem)
    if not replace_existing and has_active_key(db, channel_id):
        raise KeyNotAllowed("the channel already has an active key; confirm that a new key revokes it")
    try:
        with hold_generation_lock(db, channel_id):
            recover_abandoned_attempts(db)
            return _generate_claimed(db, api, vault, channel_id, actor=actor)
    except LockBusy:
        raise KeyNotAllowed("a key is already being generated for this channel") from None


ABANDONED = "abandoned: the console stopped while the request may have reached 360dialog"


def recover_abandoned_attempts(db: Database) -> int:
    """Turn 'pending' attempts whose process died into 'unknown', so the operator knows to check the key
    and the channel is not blocked for ever. Returns how many it recovered."""
    recovered = 0
    for row in db.query("select id, channel_id from api_keys where outcome = 'pending'"):
        if not is_abandoned(db, row["channel_id"]):
            continue
        with db.atomic():
            # Only if still pending: its own thread may have finished between the read above and the lock check.
            updated = db.execute(
                "update api_keys set outcome = 'unknown', error = ? where id = ? and outcome = 'pending'",
                [ABANDONED, row["id"]],
            ).rowcount
            if not updated:
                continue
            db.execute(
                """
                update audit set outcome = 'unknown', detail = ?
                where action = 'generate_key' and channel_id = ? and outcome = 'started'
                """,
                [ABANDONED, row["channel_id"]],
            )
        recovered += 1
    return recovered


def _generate_claimed(db: Database, api: PartnerApi, vault: KeyVault, channel_id: str, *, actor: Person) -> KeyResult:
    attempt_id = _claim(db, channel_id, actor)
    audit_id = audit.record(db, **audit_fields(actor), action="generate_key", channel_id=channel_id, outcome="started")
    try:
        key = api.generate_api_key(channel_id)
    except PartnerApiError as error:
        outcome = "unknown" if error.may_have_reached_server else "failed"
        _store_failure(db, attempt_id, outcome, error.message)
        audit.set_outcome(db, audit_id, outcome, error.message)
        if error.kind == "forbidden":
            record_refusal(db, channel_id, error.detail)
        raise
    except BaseException:
        _store_failure(db, attempt_id, "unknown", "interrupted after the request was sent")
        audit.set_outcome(db, audit_id, "unknown", "interrupted after the request was sent")
        raise
    replaced = _store_success(db, attempt_id, channel_id, vault, key)
    clear_refusal(db, channel_id)
    audit.set_outcome(db, audit_id, "ok", f"key ending {last_four(key.api_key)}")
    if replaced:
        audit.record(
            db,
            **audit_fields(actor),
            action="revoke_key",
            channel_id=channel_id,
            outcome="ok",
            detail="replaced by a new key",
        )
    return KeyResult(channel_id, key.api_key, last_four(key.api_key), key.address, key.app_id)


def record_reveal(db: Database, channel_id: str, *, actor: Person, last4: str) -> None:
    """Showing a key in clear is audited; the key itself is never written anywhere. Raises NotAllowed (audited)
    when the actor's role may not see keys: the caller shows the key only after this returns."""
    enforce(db, actor, "reveal_key", channel_id=channel_id)
    audit.record(
        db,
        **audit_fields(actor),
        action="reveal_key",
        channel_id=channel_id,
        outcome="ok",
        detail=f"key ending {last4}",
    )


def record_download(db: Database, *, actor: Person, count: int) -> None:
    """Downloading new keys in clear is audited, with how many. Raises NotAllowed (audited) when the actor's role
    may not: the caller offers the file only after this returns."""
    enforce(db, actor, "export_keys")
    audit.record(db, **audit_fields(actor), action="export_keys", outcome="ok", detail=f"{count} new keys downloaded")
