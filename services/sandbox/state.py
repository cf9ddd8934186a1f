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


@sandbox_migrations()
def m003_messaging_webhooks(db: Database) -> None:
    # Where each number's inbound messages would go, as set through the Messaging API (contract section 6).
    db["messaging_webhooks"].create({"channel_id": str, "url": str, "headers": str, "updated_at": str}, pk="channel_id")


@sandbox_migrations()
def m004_alert_inbox(db: Database) -> None:
    # The console's alerts as a demo receives them (services/sandbox/inbox.py): not part of 360dialog.
    db["alert_inbox"].create(
        {"id": int, "received_at": str, "title": str, "message": str, "type": str},
        pk="id",
        not_null={"received_at"},
    )


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
    # 360dialog's webhook reference names the running transition channel_running; its Connect Button page says
    # channel_status_running, which the seeded scenario sends now and then.
    "running": "channel_running",
}
# webhook_read_missing: GET /v1/configs/webhook answers 404, as a Messaging API without that undocumented read.
SWITCH_NAMES = ("send_twice", "out_of_order", "webhook_read_missing")
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
        # A client's numbers share one WABA and one business portfolio, whose limit Meta sets for all of them
        # (contract section 7).
        "waba_account": {
            "id": waba_id(row["client_id"]),
            "external_id": None,
            "business_id": portfolio_id(row["client_id"]),
            "fb_account_status": "verified",
        },
    }


def portfolio_id(client_id: str) -> str:
    """The business portfolio behind a client's numbers (the BUSINESS entity of a key's health status)."""
    return client_id + "BU"


def waba_id(client_id: str) -> str:
    """The one WABA behind a client's numbers, as the hub's channel objects and template events name it."""
    return client_id + "WA"


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


def regenerate_client_key(db: Database, channel_id: str) -> int:
    """The client generates its own key for a channel in its hub, which "will revoke all existing keys": every key
    the partner holds stops working, and nobody but the client sees the new one. Returns how many keys stopped."""
    get_channel_row(db, channel_id)
    with db.atomic():
        current = db["keys"].count_where("channel_id = ? and revoked = 0", [channel_id])
        issue_key(db, channel_id)
    return current


def key_is_current(db: Database, api_key: str) -> bool:
    return bool(db["keys"].count_where("key_hash = ? and revoked = 0", [hash_key(api_key)]))


def channel_for_key(db: Database, api_key: str) -> dict[str, Any] | None:
    """The channel a current key opens, with the key's app id; None for an unknown or revoked key."""
    rows = db.query(
        """select channels.*, keys.app_id from keys join channels on channels.id = keys.channel_id
           where keys.key_hash = ? and keys.revoked = 0""",
        [hash_key(api_key)],
    )
    return next(iter(rows), None)


def set_messaging_webhook(db: Database, channel_id: str, url: str, headers: dict[str, str]) -> None:
    with db.atomic():
        db["messaging_webhooks"].upsert(
            {"channel_id": channel_id, "url": url, "headers": json.dumps(headers), "updated_at": utc_now()},
            pk="channel_id",
        )


def messaging_webhook(db: Database, channel_id: str) -> dict[str, Any]:
    row = next(iter(db["messaging_webhooks"].rows_where("channel_id = ?", [channel_id])), None)
    if row is None:
        return {"url": None}
    return {"url": row["url"], "headers": json.loads(row["headers"] or "{}")}


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
        for table in (
            "outbox",
            "keys",
            "channels",
            "clients",
            "used_signatures",
            "partner",
            "tokens",
            "switches",
            "messaging_webhooks",
            "alert_inbox",
        ):
            db.execute(f"delete from {table}")  # noqa: S608 - fixed names
