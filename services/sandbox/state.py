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
# Recorded under this name before migrations were named for what they do (see store.apply_migrations).
SANDBOX_FORMER_NAMES = {"m002_partner_api_issue7": "m002_partner_api_tables"}
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


@sandbox_migrations()
def m002_partner_api_tables(db: Database) -> None:
    db["channels"].add_column("terminated_at", str)
    db["outbox"].add_column("event", str)
    db["outbox"].add_column("created_at", str)
    db.execute("update outbox set event = json_extract(body, '$.event')")
    db["partner"].create({"id": str, "webhook_url": str, "partner_redirect_url": str}, pk="id")
    db["tokens"].create({"token_hash": str, "expires_at": float}, pk="token_hash")
    db["switches"].create({"name": str, "value": int}, pk="name")


class NotFound(LookupError):
    """An id the sandbox does not know."""


class BadQuery(ValueError):
    """A filter, sort or page parameter the sandbox cannot use; the message names it."""


# Partner API field name -> column, for the fields a list can be filtered and sorted by.
CHANNEL_FIELDS = {
    "id": "channels.id",
    "client_id": "channels.client_id",
    "status": "channels.status",
    "account_mode": "channels.account_mode",
    "created_at": "channels.created_at",
    "modified_at": "channels.modified_at",
    "terminated_at": "channels.terminated_at",
    "current_limit": "channels.current_limit",
    "current_quality_rating": "channels.current_quality_rating",
}
CLIENT_FIELDS = {"id": "id", "name": "name", "partner_payload": "partner_payload", "created_at": "created_at"}
CHANNEL_STAGES = ("pending", "submitted", "ready", "running")
STAGE_EVENTS = {
    "pending": "channel_created",
    "submitted": "channel_submitted",
    "ready": "channel_ready",
    "running": "channel_status_running",
}
SWITCH_NAMES = ("send_twice", "out_of_order")
CLIENT_EDITABLE_FIELDS = frozenset({"name", "partner_payload"})


def open_sandbox_db(path: Any) -> Database:
    return connect(path, sandbox_migrations, SANDBOX_FORMER_NAMES)


def new_id(suffix: str, length: int = 8) -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length)) + suffix


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


# -- reading ---------------------------------------------------------------------------------------
def _client_row(db: Database, client_id: str) -> dict[str, Any] | None:
    return next(iter(db["clients"].rows_where("id = ?", [client_id])), None)


def get_channel_row(db: Database, channel_id: str) -> dict[str, Any]:
    row = next(iter(db["channels"].rows_where("id = ?", [channel_id])), None)
    if row is None:
        raise NotFound(f"Channel {channel_id} not found")
    return row


def channel_object(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    """A channel as the Partner API shows it (contract section 4)."""
    client = _client_row(db, row["client_id"]) or {}
    return {
        "id": row["id"],
        "client_id": row["client_id"],
        "status": row["status"],
        "account_mode": row["account_mode"],
        "created_at": row["created_at"],
        "modified_at": row["modified_at"],
        "terminated_at": row.get("terminated_at"),
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


def client_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "partner_payload": row["partner_payload"],
        "created_at": row["created_at"],
    }


def _where(filters: dict[str, Any], fields: dict[str, str]) -> tuple[str, list[Any]]:
    clauses, values = [], []
    for name, value in filters.items():
        if name not in fields:
            raise BadQuery(f"filters: unknown field {name!r}; known: {', '.join(sorted(fields))}")
        if isinstance(value, (dict, list)):
            raise BadQuery(f"filters: {name} must be a single value")
        if value is None:
            clauses.append(f"{fields[name]} is null")
        else:
            clauses.append(f"{fields[name]} = ?")
            values.append(str(value))
    return (" and ".join(clauses) or "1"), values


def _order_by(sort: str | None, fields: dict[str, str], default: str) -> str:
    if not sort:
        return f"{fields[default]}, {fields['id']}"
    descending = sort.startswith("-")
    name = sort.removeprefix("-")
    if name not in fields:
        raise BadQuery(f"sort: unknown field {name!r}; known: {', '.join(sorted(fields))}")
    direction = "desc" if descending else "asc"
    return f"{fields[name]} {direction}, {fields['id']} {direction}"


def _page_of(
    db: Database,
    table: str,
    fields: dict[str, str],
    *,
    filters: dict[str, Any],
    sort: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of a table's rows and the total that match the filters (table and fields are ours, not input)."""
    where, values = _where(filters, fields)
    total = next(db.query(f"select count(*) as n from {table} where {where}", values))["n"]  # noqa: S608
    rows = db.query(
        f"select * from {table} where {where} order by {_order_by(sort, fields, 'created_at')} "  # noqa: S608
        "limit ? offset ?",
        [*values, limit, offset],
    )
    return list(rows), total


def list_channels(
    db: Database, *, filters: dict[str, Any], sort: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of channel objects and the total that match the filters."""
    rows, total = _page_of(db, "channels", CHANNEL_FIELDS, filters=filters, sort=sort, limit=limit, offset=offset)
    return [channel_object(db, row) for row in rows], total


def list_clients(
    db: Database, *, filters: dict[str, Any], sort: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    rows, total = _page_of(db, "clients", CLIENT_FIELDS, filters=filters, sort=sort, limit=limit, offset=offset)
    return [client_object(row) for row in rows], total


def update_client(db: Database, client_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    if _client_row(db, client_id) is None:
        raise NotFound(f"Client {client_id} not found")
    with db.atomic():
        db["clients"].update(client_id, changes)
    return client_object(db["clients"].get(client_id))


def shared_client_numbers(db: Database, client_id: str) -> list[dict[str, Any]]:
    """The client's numbers the partner may generate keys for (the client granted permission)."""
    if _client_row(db, client_id) is None:
        raise NotFound(f"Client {client_id} not found")
    rows = db["channels"].rows_where("client_id = ? and permission_granted = 1", [client_id], order_by="created_at, id")
    return [{"channel_id": row["id"], "phone_number": row["phone_number"]} for row in rows]


# -- onboarding ------------------------------------------------------------------------------------
def create_client_with_channels(
    db: Database,
    *,
    name: str,
    numbers: list[str],
    partner_payload: str | None,
    running_after: float,
    never_running: bool = False,
    permission_granted: bool = True,
) -> tuple[str, list[str]]:
    """Onboard a client: its channels start pending and turn running after `running_after` seconds,
    unless `never_running` (a channel stuck in review, for demos)."""
    client_id = new_id("CL")
    now = utc_now()
    channel_ids = [new_id("CH") for _ in numbers]
    with db.atomic():
        db["clients"].insert({"id": client_id, "name": name, "partner_payload": partner_payload, "created_at": now})
        for channel_id, number in zip(channel_ids, numbers, strict=True):
            insert_channel(
                db, channel_id, client_id, number, name, created_at=now, permission_granted=permission_granted
            )
        for channel_id in channel_ids:
            channel = channel_object(db, db["channels"].get(channel_id))
            enqueue_event(db, "channel_created", channel, due_in=0)
            if not never_running:
                enqueue_event(
                    db,
                    "channel_status_running",
                    {**channel, "status": "running"},
                    due_in=running_after,
                    apply_status="running",
                )
    return client_id, channel_ids


def insert_channel(
    db: Database,
    channel_id: str,
    client_id: str,
    number: str,
    name: str,
    *,
    created_at: str,
    status: str = "pending",
    quality: str = "GREEN",
    limit: str = "TIER_250",
    permission_granted: bool = True,
) -> None:
    db["channels"].insert(
        {
            "id": channel_id,
            "client_id": client_id,
            "status": status,
            "account_mode": "sandbox",
            "phone_number": number,
            "phone_name": name,
            "current_quality_rating": quality,
            "current_limit": limit,
            "permission_granted": int(permission_granted),
            "created_at": created_at,
            "modified_at": created_at,
        }
    )


# -- partner settings and legacy tokens -------------------------------------------------------------
def partner_settings(db: Database, partner_id: str) -> dict[str, Any]:
    row = next(iter(db["partner"].rows_where("id = ?", [partner_id])), None)
    return {
        "id": partner_id,
        "webhook_url": (row or {}).get("webhook_url"),
        "partner_redirect_url": (row or {}).get("partner_redirect_url"),
    }


def update_partner(db: Database, partner_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    with db.atomic():
        db["partner"].upsert({"id": partner_id, **changes}, pk="id")
    return partner_settings(db, partner_id)


def issue_token(db: Database, lifetime: float) -> str:
    token = secrets.token_urlsafe(32)
    with db.atomic():
        db.execute("delete from tokens where expires_at < ?", [time.time()])
        db["tokens"].insert({"token_hash": hash_key(token), "expires_at": time.time() + lifetime})
    return token


def token_is_valid(db: Database, token: str) -> bool:
    return bool(db["tokens"].count_where("token_hash = ? and expires_at > ?", [hash_key(token), time.time()]))


# -- switches for testing the receiver ---------------------------------------------------------------
def switches(db: Database, defaults: dict[str, bool]) -> dict[str, bool]:
    stored = {row["name"]: bool(row["value"]) for row in db["switches"].rows}
    return {name: stored.get(name, defaults.get(name, False)) for name in SWITCH_NAMES}


def set_switches(db: Database, values: dict[str, bool]) -> None:
    with db.atomic():
        for name, value in values.items():
            db["switches"].upsert({"name": name, "value": int(value)}, pk="name")


# -- webhook outbox --------------------------------------------------------------------------------
def enqueue_event(
    db: Database, event: str, data: dict[str, Any], *, due_in: float, apply_status: str | None = None
) -> int:
    body = json.dumps({"id": new_id("EV", 16), "event": event, "data": data})
    return enqueue_body(db, body, event=event, channel_id=data.get("id"), due_in=due_in, apply_status=apply_status)


def enqueue_body(
    db: Database, body: str, *, event: str, channel_id: str | None, due_in: float, apply_status: str | None = None
) -> int:
    table = db["outbox"].insert(
        {
            "body": body,
            "event": event,
            "apply_status": apply_status,
            "channel_id": channel_id,
            "due_at": time.time() + due_in,
            "created_at": utc_now(),
        }
    )
    return int(table.last_pk)


def due_deliveries(db: Database, limit: int = 50, *, out_of_order: bool = False, hold: float = 0.0) -> list[dict]:
    """Deliveries whose time has come. Out of order: each is held back `hold` seconds so that several are
    due together, and the newest goes first."""
    if out_of_order:
        return list(
            db.query(
                "select * from outbox where delivered_at is null and due_at <= ? order by due_at desc, id desc limit ?",
                [time.time() - hold, limit],
            )
        )
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


def retry_delay(attempts: int, *, max_backoff: float = 60.0) -> float:
    """Exponential backoff: 2, 4, 8 ... seconds, capped."""
    return min(max_backoff, 2.0**attempts)


def mark_failed(db: Database, delivery: dict[str, Any], error: str) -> None:
    attempts = delivery["attempts"] + 1
    with db.atomic():
        db["outbox"].update(
            delivery["id"],
            {"attempts": attempts, "last_error": error[:200], "due_at": time.time() + retry_delay(attempts)},
        )


def recent_outbox(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """Stored events, newest first, without their bodies."""
    return list(
        db.query(
            """select id, event, channel_id, created_at, attempts, delivered_at, last_error
               from outbox order by id desc limit ?""",
            [limit],
        )
    )


HELD_SECONDS = 24 * 60 * 60


def release_held(db: Database) -> int:
    """Make held webhooks (queued with `due_in=HELD_SECONDS`) due now, keeping their order."""
    now = time.time()
    with db.atomic():
        cursor = db.execute(
            "update outbox set due_at = ? where delivered_at is null and due_at > ?", [now, now + HELD_SECONDS / 2]
        )
    return cursor.rowcount


def resend(db: Database, outbox_id: int) -> int:
    """Queue a stored event again, byte for byte (same event id): the receiver sees a duplicate."""
    row = next(iter(db["outbox"].rows_where("id = ?", [outbox_id])), None)
    if row is None:
        raise NotFound(f"Outbox entry {outbox_id} not found")
    with db.atomic():
        return enqueue_body(db, row["body"], event=row["event"], channel_id=row["channel_id"], due_in=0)


# -- demo triggers -----------------------------------------------------------------------------------
def change_quality(db: Database, channel_id: str, *, quality: str, limit: str) -> int:
    """Meta changed a number's quality rating or messaging limit: update it and tell the partner."""
    get_channel_row(db, channel_id)
    with db.atomic():
        db["channels"].update(
            channel_id, {"current_quality_rating": quality, "current_limit": limit, "modified_at": utc_now()}
        )
        channel = channel_object(db, db["channels"].get(channel_id))
        return enqueue_event(db, "phone_number_quality_changed", channel, due_in=0)


def account_violation(db: Database, channel_id: str) -> int:
    get_channel_row(db, channel_id)
    with db.atomic():
        return enqueue_event(db, "account_violation", channel_object(db, db["channels"].get(channel_id)), due_in=0)


def revoke_permission(db: Database, channel_id: str) -> str:
    """The client withdraws key permission for a channel. Returns the redirect query the hub would send the
    client's browser back with (contract section 2)."""
    row = get_channel_row(db, channel_id)
    with db.atomic():
        db["channels"].update(channel_id, {"permission_granted": 0, "modified_at": utc_now()})
    granted = [
        r["id"]
        for r in db["channels"].rows_where(
            "client_id = ? and permission_granted = 1", [row["client_id"]], order_by="created_at, id"
        )
    ]
    return redirect_query(row["client_id"], granted, revoked=[channel_id])


def redirect_query(client_id: str, channel_ids: list[str], *, revoked: list[str] | None = None) -> str:
    # Lists go as one bracketed, comma-separated value; ids need no escaping.
    query = f"client={client_id}&channels=[{','.join(channel_ids)}]"
    if revoked:
        query += f"&revoked=[{','.join(revoked)}]"
    return query


# -- keys ------------------------------------------------------------------------------------------
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


# -- IO signatures -----------------------------------------------------------------------------------
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


# -- reset -------------------------------------------------------------------------------------------
def reset(db: Database) -> None:
    """Forget every client, channel, key, token, event and switch; the schema stays."""
    with db.atomic():
        for table in ("outbox", "keys", "channels", "clients", "used_signatures", "partner", "tokens", "switches"):
            db.execute(f"delete from {table}")  # noqa: S608 - fixed names
