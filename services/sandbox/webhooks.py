"""The partner webhooks the hub sends, each in a shape 360dialog's pages or production integrations record
for its name (contract section 5).

`tests/fixtures/360dialog/partner_webhooks.json` holds those shapes with their sources, and a test holds
every body the hub makes to them, so the demo exercises what production sends: flat phone fields in some
events and `setup_info` in others, a `channel_live` that says `ready`, a `channel_running` with no status
and no event id, a template event named by its WABA, and account events named by the number only.
"""

from __future__ import annotations

import re
from typing import Any

from services.sandbox.state import channel_object, client_object, new_id

# The onboarding as the hub tells it: each channel event with the status the hub's own row takes when it
# falls due (None: no change). The running transition goes by the name 360dialog's webhook reference gives it;
# the Connect Button page's channel_status_running is a variant only the seeded scenario sends now and then.
ONBOARDING_EVENTS = (
    ("channel_created", None),
    ("channel_submitted", "submitted"),
    ("channel_live", "ready"),
    ("channel_running", "running"),
)
TEMPLATE_NAME, TEMPLATE_LANGUAGE = "order_update", "en"


def _event(name: str, data: dict[str, Any], *, with_id: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"id": new_id("EV", 16)} if with_id else {}
    return {**body, "event": name, "data": data}


def digits(number: str | None) -> str:
    return re.sub(r"[^0-9]", "", number or "")


def client_created(client: dict[str, Any]) -> dict[str, Any]:
    """A new client registered under the partner: the client as the Partner API lists it."""
    return _event("client_created", client_object(client))


def documented_channel(name: str, row: dict[str, Any], client: dict[str, Any] | None, status: str) -> dict[str, Any]:
    """channel_created, channel_submitted and channel_ready with the fields 360dialog's event page names:
    client_id and client, flat phone_number and phone_name, created_at, billing_started_at (none yet),
    fb_account_status, status and account_mode."""
    client = client or {}
    return _event(
        name,
        {
            "id": row["id"],
            "client_id": row["client_id"],
            "client": {
                "id": client.get("id"),
                "name": client.get("name"),
                "partner_payload": client.get("partner_payload"),
            },
            "phone_number": digits(row["phone_number"]),
            "phone_name": row["phone_name"],
            "created_at": row["created_at"],
            "billing_started_at": None,
            "fb_account_status": "verified",
            "status": status,
            "account_mode": row["account_mode"],
        },
    )


def channel_live(row: dict[str, Any]) -> dict[str, Any]:
    """As a production integration recorded it: the name says live, data.status says ready."""
    data = {
        "id": row["id"],
        "status": "ready",
        "account_mode": row["account_mode"],
        "phone_number": digits(row["phone_number"]),
        "phone_name": row["phone_name"],
    }
    return _event("channel_live", data)


def channel_status_running(row: dict[str, Any]) -> dict[str, Any]:
    """As 360dialog's Connect Button page names it: no status, the phone fields under setup_info."""
    data = {
        "id": row["id"],
        "client_id": row["client_id"],
        "setup_info": {"phone_number": row["phone_number"], "phone_name": row["phone_name"]},
    }
    return _event("channel_status_running", data)


def channel_running(row: dict[str, Any]) -> dict[str, Any]:
    """As recorded: no event id, no status, only the channel id and its account mode."""
    return _event("channel_running", {"id": row["id"], "account_mode": row["account_mode"]}, with_id=False)


def onboarding_event(name: str, row: dict[str, Any], client: dict[str, Any] | None, status: str) -> dict[str, Any]:
    """One step of a channel's onboarding; `status` is the stage the channel reaches with it."""
    if name == "channel_live":
        return channel_live(row)
    if name == "channel_status_running":
        return channel_status_running(row)
    if name == "channel_running":
        return channel_running(row)
    return documented_channel(name, row, client, status)


def quality_changed(db: Any, row: dict[str, Any]) -> dict[str, Any]:
    """The field names are unconfirmed: the channel object as the Partner API lists it, which carries
    current_quality_rating and current_limit."""
    return _event("phone_number_quality_changed", channel_object(db, row))


def template_status_changed(waba_id: str, status: str) -> dict[str, Any]:
    """As recorded on the wire: data.id is the WABA, not a channel."""
    template = {"name": TEMPLATE_NAME, "language": TEMPLATE_LANGUAGE, "status": status}
    return _event("waba_template_status_changed", {"id": waba_id, "template": template})


def cancellation(name: str, db: Any, row: dict[str, Any]) -> dict[str, Any]:
    """cancellation_request and cancellation_processed (unconfirmed shapes): the channel object, whose
    terminated_at is set once the cancellation is processed. cancellation_revoke names the channel only."""
    if name == "cancellation_revoke":
        return _event(name, {"channel_id": row["id"]})
    return _event(name, channel_object(db, row))


def account_alert(name: str, phone_number: str | None, violation_type: str) -> dict[str, Any]:
    """account_violation or account_restriction: the number (digits only) and the violation type, no
    channel id."""
    return _event(name, {"phone_number": digits(phone_number), "violation_type": violation_type})
