"""IO links handed out: each with its own `state`, operator, parameters and expiry.

With IO Signature on, the link a client receives points at the console (`{public_url}/connect/<token>`), which
signs a new IO Signature at each click (services.onboarding.link_clicks): 360dialog accepts a signature for 24
hours and for one start of IO, while a QR code on paper, an e-mailed link or an abandoned first attempt must
still work on the next click. Without IO Signature the link is the hub link itself, as before.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.channels.labels import ChannelLabel, channel_labels
from services.onboarding.io_link import HUB_PARAMETERS, InvalidLinkParameter, build_io_link
from services.onboarding.io_signature import SIGNATURE_LIFETIME_SECONDS, seconds_left, sign_io
from services.times import utc_text

# How long a link handed out before links had their own expiry lived: as long as the signature it carried.
LINK_LIFETIME_SECONDS = SIGNATURE_LIFETIME_SECONDS
DEFAULT_LINK_DAYS = 14.0
# Where a console link points, under the console's public address.
CONNECT_PATH = "/connect/"
# 128 bits from `secrets`: a token cannot be guessed, and a token is all a click carries.
TOKEN_BYTES = 16
# Set by the console for every link; an operator cannot choose them.
RESERVED_PARAMETERS = frozenset({"state", "io_signature", "io_timestamp"})
# What names one client: never carried over to the next client's link.
CLIENT_PARAMETERS = frozenset(
    {"email", "name", "partner", "connect_client_user", "client_id", "preverified_phone_number_id"}
)
CLOSED = "closed"


class LinkNotOpen(ValueError):
    """The link cannot be closed: it is unknown, or its client already came back through it."""


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
    # Set for a console link, signed afresh at each click; None for a direct hub link.
    token: str | None = None
    expires_at: str | None = None


def for_next_client(request: LinkRequest) -> LinkRequest:
    """The request without what named its client (number, e-mail, name, the partner's reference, account
    sharing): where the link points and how stay, for the next client's own link."""
    params = {name: value for name, value in request.params.items() if name not in CLIENT_PARAMETERS}
    return replace(request, number=None, params=params)


def console_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{CONNECT_PATH}{token}"


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


def hub_link(
    partner_id: str,
    request: LinkRequest,
    state: str,
    *,
    signing_secret: str | None = None,
    signature_encoding: str = "hex",
    now: float | None = None,
) -> tuple[str, int | None]:
    """The hub link for `request` with its `state`, signed at this moment when a secret is given; with the
    signature's timestamp. Raises InvalidLinkParameter naming a parameter the hub does not take."""
    extra: dict[str, str | int] = {"state": state}
    io_timestamp = None
    if signing_secret is not None:
        signature = sign_io(partner_id, signing_secret, encoding=signature_encoding, now=now)
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
    return url, io_timestamp


def hand_out_link(
    db: Database,
    request: LinkRequest,
    *,
    partner_id: str,
    actor: Person,
    signing_secret: str | None = None,
    console_url: str | None = None,
    link_days: float = DEFAULT_LINK_DAYS,
    now: datetime | None = None,
) -> HandedOutLink:
    """A new link with a new random state bound to the acting person, stored.

    With a signing secret the link points at the console (`console_url`, its public address), which signs at
    each click; the hub link is built once here so that a bad parameter is named now, not at the client's click.
    Raises NotAllowed (audited) when the actor's role may not hand out links.
    """
    enforce(db, actor, "hand_out_link")
    signed = signing_secret is not None
    if signed and not console_url:
        raise ValueError("a signed link points at the console: its public address (CONSOLE_PUBLIC_URL) is needed")
    state = secrets.token_urlsafe(16)
    direct_url, _ = hub_link(partner_id, request, state, signing_secret=signing_secret)
    token = secrets.token_urlsafe(TOKEN_BYTES) if signed else None
    url = console_link(console_url or "", token) if token else direct_url
    current = now or datetime.now(UTC)
    created_at = current.isoformat(timespec="microseconds")
    expires_at = (current + timedelta(days=link_days)).isoformat(timespec="microseconds")
    shown_params = {"number": request.number or None, **request.params}
    with db.atomic():
        db["io_links"].insert(
            {
                "state": state,
                "operator": actor.id,
                "created_at": created_at,
                "url": url,
                "params": json.dumps({key: value for key, value in shown_params.items() if value not in (None, "")}),
                "io_timestamp": None,
                "env": request.env,
                "version": request.version,
                "hub_url": request.hub_url,
                "token": token,
                "expires_at": expires_at,
            }
        )
    return HandedOutLink(state, url, actor.id, created_at, None, token, expires_at)


def reopened_link(link: Mapping[str, Any]) -> HandedOutLink:
    """A stored link as it was handed out, to show and copy again."""
    return HandedOutLink(
        link["state"],
        link["url"],
        link["operator"],
        link["created_at"],
        link.get("io_timestamp"),
        link.get("token"),
        link.get("expires_at"),
    )


def close_link(db: Database, state: str, *, actor: Person, now: datetime | None = None) -> None:
    """Close a link handed out: its console route refuses it from now on, and a redirect coming back with its
    state vouches for nothing. Audited. Raises LinkNotOpen when the client is already back through it (or no
    such link), NotAllowed (audited) for a role that may not hand out links."""
    enforce(db, actor, "hand_out_link")
    closed_at = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
    with db.atomic():
        closed = db.execute(
            "update io_links set closed_at = ?, closed_by = ? where state = ? and used_at is null "
            "and closed_at is null",
            [closed_at, actor.id, state],
        ).rowcount
        if not closed:
            link = get_link(db, state)
            if link is None or link.get("used_at"):
                raise LinkNotOpen("this link cannot be closed: its client already came back through it")
            return
        link = get_link(db, state) or {}
        audit.record(
            db,
            **audit_fields(actor),
            action="close_link",
            outcome="ok",
            detail=f"closed the link {link.get('operator')} handed out at {_minute(link.get('created_at'))}",
        )


def stored_request(link: Mapping[str, Any]) -> LinkRequest:
    """The request a stored link was made with: its hub, version, number and parameters."""
    params = {name: str(value) for name, value in _params(link.get("params")).items()}
    number = params.pop("number", None)
    return LinkRequest(
        env=link.get("env") or "prod",
        version=link.get("version") or "v1",
        number=number,
        params=params,
        hub_url=link.get("hub_url"),
    )


def _minute(moment: datetime | str | None) -> str:
    """A time as people read it in a table: to the minute, in UTC."""
    return utc_text(moment, to="minute", zone=True)


def _age_seconds(created_at: str, now: datetime) -> float:
    return (now - datetime.fromisoformat(created_at)).total_seconds()


def link_expiry(link: Mapping[str, Any]) -> datetime:
    """When the link stops working: its own expiry, or for a link from before, a day after it was made."""
    if link.get("expires_at"):
        return datetime.fromisoformat(link["expires_at"])
    return datetime.fromisoformat(link["created_at"]) + timedelta(seconds=LINK_LIFETIME_SECONDS)


def link_status(link: Mapping[str, Any], now: datetime | None = None) -> str:
    """open, redirected (a redirect came back with its state), closed (by an operator) or expired (past its own
    expiry; a link signed when handed out, before links were signed at each click, also when its signature
    expired)."""
    if link.get("used_at"):
        return "redirected"
    if link.get("closed_at"):
        return CLOSED
    current = now or datetime.now(UTC)
    if current >= link_expiry(link):
        return "expired"
    if _signed_when_handed_out(link) and seconds_left(int(link["io_timestamp"]), current.timestamp()) == 0:
        return "expired"
    return "open"


def _signed_when_handed_out(link: Mapping[str, Any]) -> bool:
    # A console link's io_timestamp is its last click's; only a link from before carried its signature.
    return bool(link.get("io_timestamp")) and not link.get("token")


def link_seconds_left(link: Mapping[str, Any], now: datetime | None = None) -> int:
    """Seconds before the link expires."""
    current = now or datetime.now(UTC)
    left = (link_expiry(link) - current).total_seconds()
    if _signed_when_handed_out(link):
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
        number = label.number or f"channel {channel_id}"
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
                "created": _minute(datetime.fromisoformat(row["created_at"])),
                "operator": row["operator"],
                "environment": row["env"] or "",
                "version": row["version"] or "",
                "parameters": _parameters_text(row["params"]),
                "status": link_status(row, now),
                "business": business,
                "numbers": numbers,
                "client": client or "",
                "clicks": row["clicks"] or 0,
                "last click": _minute(datetime.fromisoformat(row["last_click_at"])) if row["last_click_at"] else "",
                "expires": _minute(link_expiry(row)),
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
