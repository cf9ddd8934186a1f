"""The sandbox hub's own state (its clients, channels, keys and webhook outbox), apart from the console's."""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import time
from typing import Any

from sqlite_utils import Database, Migrations

from services.store import connect, utc_now

sandbox_migrations = Migrations("sandbox")
ID_ALPHABET = string.ascii_letters + string.digits


@sandbox_migrations()
def m001_initial(db: Database) -> None:
    db["clients"].create(
        {"id": str, "name": str, "partner_payload": str, "created_at": str, "direct_paid": int}, pk="id"
    )
    db["channels"].create(
        {
            "id": str,
            "client_id": str,
            "status": str,
            "account_mode": str,
            "phone_number": str,
            "phone_name": str,
            "current_quality_rating": str,
            "current_limit": str,
            "permission_granted": int,
            "created_at": str,
            "modified_at": str,
        },
        pk="id",
    )
    db["keys"].create(
        {"id": str, "channel_id": str, "key_hash": str, "app_id": str, "created_at": str, "revoked": int}, pk="id"
    )
    db["keys"].create_index(["key_hash"], unique=True)
    db["outbox"].create(
        {
            "id": int,
            "body": str,
            "apply_status": str,
            "channel_id": str,
            "due_at": float,
            "attempts": int,
            "delivered_at": str,
            "last_error": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db["outbox"].create_index(["delivered_at", "due_at"])
    db["used_signatures"].create({"signature": str, "used_at": str}, pk="signature")


def open_sandbox_db(path: Any) -> Database:
    return connect(path, sandbox_migrations)


def new_id(suffix: str, length: int = 8) -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length)) + suffix


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def channel_object(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    """A channel as the Partner API shows it (contract section 4)."""
    client = next(iter(db["clients"].rows_where("id = ?", [row["client_id"]])), {})
    return {
        "id": row["id"],
        "client_id": row["client_id"],
        "status": row["status"],
        "account_mode": row["account_mode"],
        "created_at": row["created_at"],
        "modified_at": row["modified_at"],
        "terminated_at": None,
        "current_limit": row["current_limit"],
        "current_quality_rating": row["current_quality_rating"],
        "setup_info": {"phone_number": row["phone_number"], "phone_name": row["phone_name"]},
        "client": {
            "id": client.get("id"),
            "name": client.get("name"),
            "partner_payload": client.get("partner_payload"),
        },
        "waba_account": {"id": row["id"] + "WA", "external_id": None, "fb_account_status": "verified"},
    }


def create_client_with_channels(
    db: Database, *, name: str, numbers: list[str], partner_payload: str | None, running_after: float
) -> tuple[str, list[str]]:
    """Onboard a client: its channels start pending and turn running after `running_after` seconds."""
    client_id = new_id("CL")
    now = utc_now()
    channel_ids = [new_id("CH") for _ in numbers]
    with db.atomic():
        db["clients"].insert({"id": client_id, "name": name, "partner_payload": partner_payload, "created_at": now})
        for channel_id, number in zip(channel_ids, numbers, strict=True):
            db["channels"].insert(
                {
                    "id": channel_id,
                    "client_id": client_id,
                    "status": "pending",
                    "account_mode": "sandbox",
                    "phone_number": number,
                    "phone_name": name,
                    "current_quality_rating": "GREEN",
                    "current_limit": "TIER_250",
                    "permission_granted": 1,
                    "created_at": now,
                    "modified_at": now,
                }
            )
        for channel_id in channel_ids:
            channel = channel_object(db, db["channels"].get(channel_id))
            enqueue_event(db, "channel_created", channel, due_in=0)
            enqueue_event(
                db,
                "channel_status_running",
                {**channel, "status": "running"},
                due_in=running_after,
                apply_status="running",
            )
    return client_id, channel_ids


def enqueue_event(
    db: Database, event: str, data: dict[str, Any], *, due_in: float, apply_status: str | None = None
) -> None:
    body = json.dumps({"id": new_id("EV", 16), "event": event, "data": data})
    db["outbox"].insert(
        {"body": body, "apply_status": apply_status, "channel_id": data.get("id"), "due_at": time.time() + due_in}
    )


def due_deliveries(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    return list(
        db.query(
            "select * from outbox where delivered_at is null and due_at <= ? order by due_at, id limit ?",
            [time.time(), limit],
        )
    )


def apply_delivery_status(db: Database, delivery: dict[str, Any]) -> None:
    """A scheduled transition happens when its webhook is first due, whether or not delivery succeeds."""
    if not delivery["apply_status"] or delivery["attempts"]:
        return
    with db.atomic():
        db["channels"].update(delivery["channel_id"], {"status": delivery["apply_status"], "modified_at": utc_now()})


def mark_delivered(db: Database, delivery_id: int) -> None:
    with db.atomic():
        db["outbox"].update(delivery_id, {"delivered_at": utc_now()})


def mark_failed(db: Database, delivery: dict[str, Any], error: str, *, max_backoff: float = 60.0) -> None:
    attempts = delivery["attempts"] + 1
    with db.atomic():
        db["outbox"].update(
            delivery["id"],
            {"attempts": attempts, "last_error": error[:200], "due_at": time.time() + min(max_backoff, 2**attempts)},
        )


def issue_key(db: Database, channel_id: str) -> tuple[str, str, str]:
    """A new key for a channel; the channel's older keys stop working. Returns (key id, key, app id)."""
    api_key = secrets.token_urlsafe(24)
    key_id = new_id("KE")
    app_id = channel_id + "AP"
    with db.atomic():
        db.execute("update keys set revoked = 1 where channel_id = ?", [channel_id])
        db["keys"].insert(
            {
                "id": key_id,
                "channel_id": channel_id,
                "key_hash": hash_key(api_key),
                "app_id": app_id,
                "created_at": utc_now(),
                "revoked": 0,
            }
        )
    return key_id, api_key, app_id


def key_is_current(db: Database, api_key: str) -> bool:
    return bool(db["keys"].count_where("key_hash = ? and revoked = 0", [hash_key(api_key)]))


def consume_signature(db: Database, signature: str) -> bool:
    """Mark an IO signature used; False when it had been used before."""
    with db.atomic():
        cursor = db.execute(
            "insert into used_signatures (signature, used_at) values (?, ?) on conflict do nothing",
            [signature, utc_now()],
        )
    return cursor.rowcount == 1


def signature_used(db: Database, signature: str) -> bool:
    return bool(db["used_signatures"].count_where("signature = ?", [signature]))
