"""Current state of clients and channels, projected from webhooks, redirects and Partner API syncs."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from services.store import utc_now
from services.webhook_events import WebhookEvent

# A lifecycle status never moves back to an earlier stage because an old event arrived late.
STAGE_ORDER = {"created": 0, "pending": 0, "submitted": 1, "ready": 2, "running": 3}


def _is_step_back(current: str | None, new: str | None) -> bool:
    if current is None or new is None:
        return False
    return current in STAGE_ORDER and new in STAGE_ORDER and STAGE_ORDER[new] < STAGE_ORDER[current]


def get_channel(db: Database, channel_id: str) -> dict[str, Any] | None:
    rows = list(db["channels"].rows_where("id = ?", [channel_id]))
    return rows[0] if rows else None


def upsert_channel(db: Database, channel_id: str, changes: dict[str, Any], *, source: str) -> dict[str, Any]:
    """Merge known fields into a channel row, creating it when new; None values leave a field as it is."""
    now = utc_now()
    current = get_channel(db, channel_id)
    updates = {key: value for key, value in changes.items() if value is not None}
    if current and _is_step_back(current.get("status"), updates.get("status")):
        updates.pop("status")
    if "status" in updates and (current is None or current.get("status") != updates["status"]):
        updates["status_changed_at"] = now
    updates.update(_quality_history(current, updates, now))
    row = {**(current or {"id": channel_id, "permission": "unknown", "revoked": 0}), **updates}
    row.update(updated_at=now, last_source=source)
    db["channels"].upsert(row, pk="id")
    return row


def _quality_history(current: dict[str, Any] | None, updates: dict[str, Any], now: str) -> dict[str, Any]:
    """On a quality or limit change, keep both values as they were just before it: the alert then describes
    the latest change only, and a drop can be told from a rise."""
    if current is None:
        return {}
    pairs = (("quality_rating", "previous_quality_rating"), ("messaging_limit", "previous_messaging_limit"))
    changed = any(
        current.get(name) is not None and updates.get(name) is not None and current[name] != updates[name]
        for name, _ in pairs
    )
    if not changed:
        return {}
    return {previous: current.get(name) for name, previous in pairs} | {"quality_changed_at": now}


def ensure_client(db: Database, client_id: str, *, name: str | None = None, partner_payload: str | None = None) -> None:
    now = utc_now()
    existing = list(db["clients"].rows_where("id = ?", [client_id]))
    row = {"id": client_id, "updated_at": now, "first_seen_at": existing[0]["first_seen_at"] if existing else now}
    if name is not None:
        row["name"] = name
    if partner_payload is not None:
        row["partner_payload"] = partner_payload
    db["clients"].upsert(row, pk="id")


def apply_webhook_event(db: Database, event: WebhookEvent) -> None:
    """Project one stored webhook onto the channel and client it concerns."""
    if event.client_id:
        ensure_client(db, event.client_id)
    if event.kind == "client_created" or not event.channel_id:
        return
    status = event.status
    if event.kind == "channel_created":
        status = status or "pending"
    upsert_channel(
        db,
        event.channel_id,
        {
            "client_id": event.client_id,
            "status": status,
            "quality_rating": event.quality_rating,
            "messaging_limit": event.messaging_limit,
            "phone_number": event.phone_number,
        },
        source=f"webhook:{event.event_type}",
    )


def apply_api_channel(db: Database, channel: dict[str, Any]) -> dict[str, Any]:
    """Project a channel object from the Partner API (contract section 4)."""
    setup = channel.get("setup_info") or {}
    client = channel.get("client") or {}
    client_id = channel.get("client_id") or client.get("id")
    if client_id:
        payload = client.get("partner_payload")
        ensure_client(
            db,
            client_id,
            name=client.get("name"),
            partner_payload=json.dumps(payload) if isinstance(payload, (dict, list)) else payload,
        )
    return upsert_channel(
        db,
        channel["id"],
        {
            "client_id": client_id,
            "status": channel.get("status"),
            "account_mode": channel.get("account_mode"),
            "phone_number": setup.get("phone_number"),
            "phone_name": setup.get("phone_name"),
            "quality_rating": channel.get("current_quality_rating"),
            "messaging_limit": channel.get("current_limit"),
        },
        source="partner_api",
    )


def record_granted(db: Database, client_id: str, granted: tuple[str, ...], revoked: tuple[str, ...]) -> dict[str, int]:
    """A redirect grants key permission for some channels and may withdraw it for others.

    Returns, per revoked channel, how many stored keys the revocation made unusable."""
    ensure_client(db, client_id)
    for channel_id in granted:
        upsert_channel(
            db, channel_id, {"client_id": client_id, "permission": "granted", "revoked": 0}, source="redirect"
        )
    unusable = {}
    for channel_id in revoked:
        upsert_channel(
            db, channel_id, {"client_id": client_id, "permission": "revoked", "revoked": 1}, source="redirect"
        )
        # The client withdrew permission: 360dialog stops honouring the channel's key.
        unusable[channel_id] = db.execute(
            "update api_keys set status = 'unusable' where channel_id = ? and status = 'active'", [channel_id]
        ).rowcount
    return unusable


def list_channels(db: Database) -> list[dict[str, Any]]:
    return list(
        db.query(
            """
            select channels.*, clients.name as client_name
            from channels left join clients on clients.id = channels.client_id
            order by channels.updated_at desc
            """
        )
    )
