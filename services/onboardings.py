"""IO links handed out and redirects received back (design: the onboardings data)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from services import audit
from services.api_keys import key_status
from services.channels import get_channel, record_granted
from services.io_link import HUB_PARAMETERS, InvalidLinkParameter, build_io_link
from services.io_signature import SIGNATURE_LIFETIME_SECONDS, seconds_left, sign_io
from services.redirect import InvalidRedirect, Redirect, canonical_query, parse_redirect, split_query
from services.store import utc_now

# A link is worth handing out for as long as its IO Signature lives; unsigned links get the same span.
LINK_LIFETIME_SECONDS = SIGNATURE_LIFETIME_SECONDS
# Set by the console for every link; an operator cannot choose them.
RESERVED_PARAMETERS = frozenset({"state", "io_signature", "io_timestamp"})
REDIRECT_ACTOR = "client (redirect)"


# -- links handed out ------------------------------------------------------------------------------


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
    operator: str,
    signing_secret: str | None = None,
    signature_encoding: str = "hex",
) -> HandedOutLink:
    """A new link with a new random state bound to `operator`, stored; signed when a secret is given.

    Never cached: the hub accepts each signature once, and each state identifies one hand-out.
    """
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
                "operator": operator,
                "created_at": created_at,
                "url": url,
                "params": json.dumps({key: value for key, value in shown_params.items() if value not in (None, "")}),
                "io_timestamp": io_timestamp,
                "env": request.env,
                "version": request.version,
            }
        )
    return HandedOutLink(state, url, operator, created_at, io_timestamp)


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


def link_history(db: Database, limit: int = 50, now: datetime | None = None) -> list[dict[str, Any]]:
    """Links handed out, newest first: who, when, parameters, and what became of each."""
    rows = db.query(
        """
        select io_links.*, redirects.client_id as redirect_client
        from io_links left join redirects on redirects.id = io_links.redirect_id
        order by io_links.created_at desc limit ?
        """,
        [limit],
    )
    return [
        {
            "created": row["created_at"],
            "operator": row["operator"],
            "environment": row["env"] or "",
            "version": row["version"] or "",
            "parameters": _parameters_text(row["params"]),
            "status": link_status(row, now),
            "client": row["redirect_client"] or "",
            "state": row["state"],
        }
        for row in rows
    ]


# -- redirects received ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRedirect:
    id: int
    is_new: bool
    state_match: str | None
    error: str | None = None
    keys_marked_unusable: int = 0


def save_raw_redirect(db: Database, raw_query: str) -> int:
    """Keep the query exactly as it came, before it is parsed, so nothing is lost if parsing fails."""
    with db.atomic():
        db.execute(
            "insert into redirects (raw_query, received_at) values (?, ?) on conflict (raw_query) do nothing",
            [raw_query, utc_now()],
        )
    return int(next(db.query("select id from redirects where raw_query = ?", [raw_query]))["id"])


def _state_match(db: Database, redirect_id: int, state: str | None) -> tuple[str, dict[str, Any] | None]:
    if state is None:
        return "no state", None
    link = get_link(db, state)
    if link is None:
        return "unknown state", None
    if link["used_at"] and link["redirect_id"] not in (None, redirect_id):
        return "already used", link
    if link_status({**link, "used_at": None}) == "expired":
        return "expired link", link
    return "matched", link


def save_redirect(db: Database, raw_query: str, redirect: Redirect) -> StoredRedirect:
    """Store a parsed redirect once (a reload finds the same row) and apply its grants and revocations.

    One transaction: the ids, the link it used, the channel list and the keys it made unusable.
    """
    redirect_id = save_raw_redirect(db, raw_query)
    with db.atomic():
        # The conditional update takes the write lock first, so two tabs landing together apply it once.
        claimed = db.execute(
            "update redirects set client_id = ?, channels = ?, revoked = ?, state = ?, error = null "
            "where id = ? and client_id is null",
            [
                redirect.client,
                json.dumps(list(redirect.channels)),
                json.dumps(list(redirect.revoked)),
                redirect.state,
                redirect_id,
            ],
        ).rowcount
        if not claimed:
            row = db["redirects"].get(redirect_id)
            return StoredRedirect(
                redirect_id, False, row["state_match"], keys_marked_unusable=row["keys_marked_unusable"] or 0
            )
        match, link = _state_match(db, redirect_id, redirect.state)
        if link is not None and not link["used_at"]:
            db.execute(
                "update io_links set used_at = ?, redirect_id = ? where state = ?",
                [utc_now(), redirect_id, link["state"]],
            )
        unusable = record_granted(db, redirect.client, redirect.channels, redirect.revoked)
        db.execute(
            "update redirects set state_match = ?, keys_marked_unusable = ? where id = ?",
            [match, sum(unusable.values()), redirect_id],
        )
        for channel_id, count in unusable.items():
            audit.record(
                db,
                operator=REDIRECT_ACTOR,
                action="permission_revoked",
                channel_id=channel_id,
                outcome="ok",
                detail=f"{count} stored key(s) marked unusable",
            )
    return StoredRedirect(redirect_id, True, match, keys_marked_unusable=sum(unusable.values()))


def record_redirect_error(db: Database, redirect_id: int, error: str) -> None:
    with db.atomic():
        db.execute("update redirects set error = ? where id = ? and client_id is null", [error, redirect_id])


def receive_redirect(db: Database, query: str | Mapping[str, str | list[str]]) -> StoredRedirect:
    """The landing page's one call: store the query as received, then read it and apply it.

    A query that cannot be read stays stored with the reason; the same query again finds the same row.
    """
    raw_query = query.removeprefix("?") if isinstance(query, str) else canonical_query(split_query(query))
    redirect_id = save_raw_redirect(db, raw_query)
    try:
        # Read from the stored text, so that what is applied is exactly what is kept (length limit included).
        redirect = parse_redirect(raw_query)
    except InvalidRedirect as error:
        record_redirect_error(db, redirect_id, str(error))
        return StoredRedirect(redirect_id, False, None, error=str(error))
    return save_redirect(db, raw_query, redirect)


@dataclass(frozen=True)
class RedirectView:
    id: int
    received_at: str
    raw_query: str
    client: str | None
    channels: tuple[str, ...]
    revoked: tuple[str, ...]
    state_match: str | None
    error: str | None
    keys_marked_unusable: int
    link_operator: str | None


def _ids(raw: str | None) -> tuple[str, ...]:
    return tuple(json.loads(raw)) if raw else ()


def redirect_view(db: Database, redirect_id: int) -> RedirectView | None:
    rows = list(
        db.query(
            """
            select redirects.*, io_links.operator as link_operator
            from redirects left join io_links on io_links.redirect_id = redirects.id
            where redirects.id = ?
            """,
            [redirect_id],
        )
    )
    if not rows:
        return None
    row = rows[0]
    return RedirectView(
        id=row["id"],
        received_at=row["received_at"],
        raw_query=row["raw_query"],
        client=row["client_id"],
        channels=_ids(row["channels"]),
        revoked=_ids(row["revoked"]),
        state_match=row["state_match"],
        error=row["error"],
        keys_marked_unusable=row["keys_marked_unusable"] or 0,
        link_operator=row["link_operator"],
    )


def redirect_for_state(db: Database, state: str) -> RedirectView | None:
    """The redirect that came back for a link, once it has; the Connect page polls this."""
    rows = list(
        db.query("select id from redirects where state = ? and client_id is not null order by id desc limit 1", [state])
    )
    return redirect_view(db, rows[0]["id"]) if rows else None


def recent_redirects(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.query("select * from redirects order by id desc limit ?", [limit])
    return [
        {
            "received": row["received_at"],
            "client": row["client_id"] or "",
            "channels": ", ".join(_ids(row["channels"])),
            "revoked": ", ".join(_ids(row["revoked"])),
            "state": row["state_match"] or "",
            "error": row["error"] or "",
        }
        for row in rows
    ]


def next_step(channel: Mapping[str, Any] | None, key: str) -> str:
    """What the operator can do next for one channel of a redirect."""
    if channel is not None and channel.get("revoked"):
        if key == "unusable":
            return "permission withdrawn; its stored key is marked unusable"
        return "permission withdrawn; no key can be generated"
    if key == "active":
        return "key exists"
    if key in ("unknown", "pending"):
        return "a key request's result is not known yet; check it on the Channels page"
    status = (channel or {}).get("status")
    if status == "running":
        return "key can be generated"
    return f"waiting for running (now: {status or 'not reported yet'})"


def channel_next_steps(db: Database, view: RedirectView) -> list[dict[str, str]]:
    """Per channel of a redirect, granted then revoked: its status, its key, and what comes next."""
    steps = []
    for channel_id in (*view.channels, *view.revoked):
        channel = get_channel(db, channel_id)
        key = key_status(db, channel_id)
        steps.append(
            {
                "channel": channel_id,
                "permission": "revoked" if channel_id in view.revoked else "granted",
                "status": (channel or {}).get("status") or "not reported yet",
                "key": key,
                "next": next_step(channel, key),
            }
        )
    return steps
