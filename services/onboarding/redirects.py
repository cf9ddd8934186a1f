"""Redirects received back from IO: stored first, then matched to a link and applied, per channel."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services import audit
from services.channels.projection import get_channel, record_granted
from services.keys.generation import key_status
from services.onboarding.links import get_link, link_status
from services.onboarding.redirect import InvalidRedirect, Redirect, canonical_query, parse_redirect, split_query
from services.store import utc_now

REDIRECT_ACTOR = "client (redirect)"


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
