"""IO links handed out: each with its own `state`, operator, parameters and IO Signature."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from services.accounts import Person, enforce
from services.channels.labels import ChannelLabel, channel_labels
from services.onboarding.io_link import HUB_PARAMETERS, InvalidLinkParameter, build_io_link
from services.onboarding.io_signature import SIGNATURE_LIFETIME_SECONDS, seconds_left, sign_io
from services.store import utc_now

# A link is worth handing out for as long as its IO Signature lives; unsigned links get the same span.
LINK_LIFETIME_SECONDS = SIGNATURE_LIFETIME_SECONDS
# Set by the console for every link; an operator cannot choose them.
RESERVED_PARAMETERS = frozenset({"state", "io_signature", "io_timestamp"})


@dataclass(frozen=True)
class LinkRequest:
    """What an operator asks for: where the link points and the hub parameters they chose."""

    env: str = "prod"
    version: str = "v1"
    number: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    hub_url: str | None = None


@dataclass(frozen=True)
class HandedOutLink:
    state: str
    url: str
    operator: str
    created_at: str
    io_timestamp: int | None


def sandbox_hub_url(sandbox_url: str) -> str:
    """The sandbox hub serves the IO pages under the same path as 360dialog's hub."""
    return f"{sandbox_url.rstrip('/')}/dashboard/app"


def _ordered_params(request: LinkRequest, extra: Mapping[str, str | int]) -> dict[str, str | int]:
    chosen = {name: value for name, value in request.params.items() if value not in (None, "")}
    reserved = sorted(RESERVED_PARAMETERS & set(chosen))
    if reserved:
        raise InvalidLinkParameter(f"the console sets {', '.join(reserved)} itself")
    if "number" in chosen:
        raise InvalidLinkParameter("number is its own field of the request")
    merged = {**chosen, **extra}
    # Documented order first; unknown names go last so that the builder names them in its error.
    known = {name: merged[name] for name in HUB_PARAMETERS if name in merged}
    return {**known, **{name: value for name, value in merged.items() if name not in known}}


def hand_out_link(
    db: Database,
    request: LinkRequest,
    *,
    partner_id: str,
    actor: Person,
    signing_secret: str | None = None,
    signature_encoding: str = "hex",
) -> HandedOutLink:
    """A new link with a new random state bound to the acting person, stored; signed when a secret is given.

    Never cached: the hub accepts each signature once, and each state identifies one hand-out. Raises NotAllowed
    (audited) when the actor's role may not hand out links.
    """
    enforce(db, actor, "hand_out_link")
    state = secrets.token_urlsafe(16)
    extra: dict[str, str | int] = {"state": state}
    io_timestamp = None
    if signing_secret is not None:
        signature = sign_io(partner_id, signing_secret, encoding=signature_encoding)
        extra.update(io_signature=signature.signature, io_timestamp=signature.timestamp)
        io_timestamp = signature.timestamp
    url = build_io_link(
        partner_id,
        env=request.env,
        version=request.version,
        number=request.number or None,
        hub_url=request.hub_url,
        **_ordered_params(request, extra),
    )
    shown_params = {"number": request.number or None, **request.params}
    created_at = utc_now()
    with db.atomic():
        db["io_links"].insert(
            {
                "state": state,
                "operator": actor.id,
                "created_at": created_at,
                "url": url,
                "params": json.dumps({key: value for key, value in shown_params.items() if value not in (None, "")}),
                "io_timestamp": io_timestamp,
                "env": request.env,
                "version": request.version,
            }
        )
    return HandedOutLink(state, url, actor.id, created_at, io_timestamp)


def _age_seconds(created_at: str, now: datetime) -> float:
    return (now - datetime.fromisoformat(created_at)).total_seconds()


def link_status(link: Mapping[str, Any], now: datetime | None = None) -> str:
    """open, redirected (a redirect came back with its state), or expired (older than 24 hours)."""
    if link.get("used_at"):
        return "redirected"
    current = now or datetime.now(UTC)
    if _age_seconds(link["created_at"], current) >= LINK_LIFETIME_SECONDS:
        return "expired"
    if link.get("io_timestamp") and seconds_left(int(link["io_timestamp"]), current.timestamp()) == 0:
        return "expired"
    return "open"


def link_seconds_left(link: Mapping[str, Any], now: datetime | None = None) -> int:
    """Seconds before the link (its signature, when it has one) expires."""
    current = now or datetime.now(UTC)
    left = LINK_LIFETIME_SECONDS - _age_seconds(link["created_at"], current)
    if link.get("io_timestamp"):
        left = min(left, seconds_left(int(link["io_timestamp"]), current.timestamp()))
    return max(0, int(left))


def get_link(db: Database, state: str) -> dict[str, Any] | None:
    rows = list(db["io_links"].rows_where("state = ?", [state]))
    return rows[0] if rows else None


def _parameters_text(raw: str | None) -> str:
    try:
        params = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return raw or ""
    return " ".join(f"{key}={value}" for key, value in params.items())


def _params(raw: str | None) -> dict[str, Any]:
    try:
        params = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return params if isinstance(params, dict) else {}


def _numbers(channel_ids: list[str], labels: Mapping[str, ChannelLabel]) -> str:
    """The numbers a client shared through a link, with their display names once the console knows them."""
    shown = []
    for channel_id in channel_ids:
        label = labels[channel_id]
        number = label.phone_number or f"channel {channel_id}"
        shown.append(f"{number} ({label.phone_name})" if label.phone_name else number)
    return ", ".join(shown)


def link_history(db: Database, limit: int = 50, now: datetime | None = None) -> list[dict[str, Any]]:
    """Links handed out, newest first: who, when, parameters, and what became of each: the client (its business
    name once known) and the numbers it shared; before that, the name and number the link asked for."""
    rows = list(
        db.query(
            """
            select io_links.*, redirects.client_id as redirect_client, redirects.channels as redirect_channels,
                   clients.name as client_name
            from io_links left join redirects on redirects.id = io_links.redirect_id
                left join clients on clients.id = redirects.client_id
            order by io_links.created_at desc limit ?
            """,
            [limit],
        )
    )
    shared = {row["state"]: _channel_ids(row["redirect_channels"]) for row in rows}
    labels = channel_labels(db, (channel_id for ids in shared.values() for channel_id in ids))
    history = []
    for row in rows:
        params = _params(row["params"])
        client, name = row["redirect_client"], row["client_name"]
        if client:
            business = name or ""
            numbers = _numbers(shared[row["state"]], labels)
        else:
            business = str(params.get("name") or "")
            numbers = str(params.get("number") or "")
        history.append(
            {
                "created": row["created_at"],
                "operator": row["operator"],
                "environment": row["env"] or "",
                "version": row["version"] or "",
                "parameters": _parameters_text(row["params"]),
                "status": link_status(row, now),
                "business": business,
                "numbers": numbers,
                "client": client or "",
                "state": row["state"],
            }
        )
    return history


def _channel_ids(raw: str | None) -> list[str]:
    try:
        ids = json.loads(raw or "[]")
    except json.JSONDecodeError:
        return []
    return [value for value in ids if isinstance(value, str)] if isinstance(ids, list) else []
