"""The hub's webhook outbox: what it will tell the partner and when, and the demo's triggers that fill it.

Each entry is a signed-on-delivery body with a due time; delivery retries with backoff until the receiver
answers 2xx (contract section 5). A scheduled status change happens when its webhook first falls due.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlite_utils import Database

from services.sandbox import state, webhooks
from services.sandbox.state import (
    CHANNEL_STAGES,
    NotFound,
    get_channel_row,
    insert_channel,
    new_id,
    portfolio_id,
    waba_id,
)
from services.store import utc_now


def enqueue_event(
    db: Database, event: str, data: dict[str, Any], *, due_in: float, apply_status: str | None = None
) -> int:
    body = json.dumps({"id": new_id("EV", 16), "event": event, "data": data})
    return enqueue_body(db, body, event=event, channel_id=data.get("id"), due_in=due_in, apply_status=apply_status)


def enqueue(
    db: Database, body: dict[str, Any], *, channel_id: str | None, due_in: float, apply_status: str | None = None
) -> int:
    """Queue a body built by services.sandbox.webhooks; `channel_id` is the channel it is about, if any."""
    return enqueue_body(
        db, json.dumps(body), event=body["event"], channel_id=channel_id, due_in=due_in, apply_status=apply_status
    )


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
    """A scheduled transition happens when its webhook is first due, whether or not delivery succeeds, and
    never takes the channel back a stage (out of order, a later stage's webhook may fall due first)."""
    new = delivery["apply_status"]
    if not new or delivery["attempts"]:
        return
    with db.atomic():
        row = next(iter(db["channels"].rows_where("id = ?", [delivery["channel_id"]])), None)
        if row is None or (row["status"] in CHANNEL_STAGES and CHANNEL_STAGES.index(row["status"]) >= _stage(new)):
            return
        db["channels"].update(delivery["channel_id"], {"status": new, "modified_at": utc_now()})


def _stage(status: str) -> int:
    return CHANNEL_STAGES.index(status) if status in CHANNEL_STAGES else len(CHANNEL_STAGES)


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
        body = webhooks.quality_changed(db, db["channels"].get(channel_id))
        return enqueue(db, body, channel_id=channel_id, due_in=0)


CANCELLATION_STEPS = {
    "request": "cancellation_request",
    "revoke": "cancellation_revoke",
    "process": "cancellation_processed",
}


def cancellation(db: Database, channel_id: str, step: str) -> dict[str, Any]:
    """The client asks 360dialog to cancel the number, withdraws the request, or the cancellation is processed
    (the channel object then carries terminated_at). Returns the outbox id and the event sent."""
    get_channel_row(db, channel_id)
    event = CANCELLATION_STEPS[step]
    with db.atomic():
        now = utc_now()
        changes = {"modified_at": now, **({"terminated_at": now} if step == "process" else {})}
        db["channels"].update(channel_id, changes)
        body = webhooks.cancellation(event, db, db["channels"].get(channel_id))
        outbox_id = enqueue(db, body, channel_id=channel_id, due_in=0)
    return {"outbox_id": outbox_id, "event": event}


def change_portfolio_limit(db: Database, client_id: str, limit: str) -> dict[str, Any]:
    """Meta sets a new messaging limit for the client's business portfolio: every one of its numbers takes it,
    and each number's quality event tells it. Returns the portfolio, its channels and the outbox ids."""
    rows = list(db["channels"].rows_where("client_id = ?", [client_id], order_by="created_at, id"))
    if not rows:
        raise NotFound(f"Client {client_id} has no channel")
    outbox_ids = []
    with db.atomic():
        now = utc_now()
        for row in rows:
            db["channels"].update(row["id"], {"current_limit": limit, "modified_at": now})
            body = webhooks.quality_changed(db, db["channels"].get(row["id"]))
            outbox_ids.append(enqueue(db, body, channel_id=row["id"], due_in=0))
    return {
        "portfolio_id": portfolio_id(client_id),
        "channel_ids": [row["id"] for row in rows],
        "outbox_ids": outbox_ids,
    }


VIOLATION_TYPE = "SCAM"


def account_alert(db: Database, channel_id: str, event: str) -> dict[str, Any]:
    """Meta flags or restricts the number (`event` is account_violation or account_restriction): 360dialog
    names it by its phone number (digits only) with the violation type, not by channel id (contract
    section 5). Returns the outbox id and the number it names."""
    row = get_channel_row(db, channel_id)
    body = webhooks.account_alert(event, row["phone_number"], VIOLATION_TYPE)
    with db.atomic():
        outbox_id = enqueue(db, body, channel_id=channel_id, due_in=0)
    return {"outbox_id": outbox_id, "phone_number": body["data"]["phone_number"]}


def account_violation(db: Database, channel_id: str) -> int:
    return account_alert(db, channel_id, "account_violation")["outbox_id"]


def template_status_change(db: Database, channel_id: str, status: str) -> dict[str, Any]:
    """Meta decided on a message template of the WABA behind the channel. Returns the outbox id, and the WABA
    and template it names (its data.id is the WABA, not the channel)."""
    row = get_channel_row(db, channel_id)
    body = webhooks.template_status_changed(waba_id(row["client_id"]), status)
    with db.atomic():
        outbox_id = enqueue(db, body, channel_id=channel_id, due_in=0)
    return {"outbox_id": outbox_id, "waba_id": body["data"]["id"], "template": body["data"]["template"]["name"]}


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


def grant_permission(db: Database, channel_id: str) -> None:
    """The client grants key permission for a channel in its own hub: no event and no redirect, only
    shared_client_numbers (and the next key request) tell."""
    get_channel_row(db, channel_id)
    with db.atomic():
        db["channels"].update(channel_id, {"permission_granted": 1, "modified_at": utc_now()})


def regenerate_key(db: Database, channel_id: str) -> dict[str, Any]:
    """The client generates its own key for the channel in its hub: the partner's keys stop working (401) and no
    event tells (contract section 7). Returns the channel, its number and business, and how many keys stopped."""
    revoked = state.regenerate_client_key(db, channel_id)
    row = get_channel_row(db, channel_id)
    client = next(iter(db["clients"].rows_where("id = ?", [row["client_id"]])), {})
    return {
        "channel_id": channel_id,
        "phone_number": row["phone_number"],
        "client_name": client.get("name"),
        "revoked_keys": revoked,
    }


def redirect_query(client_id: str, channel_ids: list[str], *, revoked: list[str] | None = None) -> str:
    # Lists go as one bracketed, comma-separated value; ids need no escaping.
    query = f"client={client_id}&channels=[{','.join(channel_ids)}]"
    if revoked:
        query += f"&revoked=[{','.join(revoked)}]"
    return query


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
    """Onboard a client, told as 360dialog tells it (webhooks.ONBOARDING_EVENTS): client_created, then per
    channel channel_created, channel_submitted, channel_live (status ready), and after `running_after`
    seconds channel_running. With `never_running` (a channel stuck in review,
    for demos) only channel_created is sent and the channel stays pending."""
    client_id = new_id("CL")
    now = utc_now()
    channel_ids = [new_id("CH") for _ in numbers]
    client = {"id": client_id, "name": name, "partner_payload": partner_payload, "created_at": now}
    steps = webhooks.ONBOARDING_EVENTS[:1] if never_running else webhooks.ONBOARDING_EVENTS
    with db.atomic():
        db["clients"].insert(client)
        enqueue(db, webhooks.client_created(client), channel_id=None, due_in=0)
        for channel_id, number in zip(channel_ids, numbers, strict=True):
            insert_channel(
                db, channel_id, client_id, number, name, created_at=now, permission_granted=permission_granted
            )
        for channel_id in channel_ids:
            row = db["channels"].get(channel_id)
            for step, (event, reaches) in enumerate(steps):
                # Spread over the running delay: submitted, then ready, then running (and its second name).
                due_in = running_after * min(step, 3) / 3
                body = webhooks.onboarding_event(event, row, client, reaches or row["status"])
                enqueue(db, body, channel_id=channel_id, due_in=due_in, apply_status=reaches)
    return client_id, channel_ids
