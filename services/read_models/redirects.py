"""Redirects as the console shows them: one redirect and its channels with what comes next for each, the
redirects received and the ones waiting for review, what the caps kept out, and the clients' names they carry.

Storing and deciding a redirect is services.onboarding's (redirect_store, redirect_decision); these read what
they left, with the channels' labels and key status.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.channels.labels import ChannelLabel, channel_labels
from services.channels.projection import get_channel
from services.keys.key_status import key_status
from services.onboarding.redirect_decision import (
    APPLIED_VERDICTS,
    SOURCE_NOT_RECORDED,
    UNREVIEWED_SQL,
    VERDICT_LABELS,
    WAITING_SQL,
)
from services.times import utc_text


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
    verdict: str | None
    verdict_reason: str | None
    decided_by: str | None

    @property
    def applied(self) -> bool:
        return self.verdict in APPLIED_VERDICTS

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS.get(self.verdict, self.verdict or "")


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
        verdict=row["verdict"],
        verdict_reason=row["verdict_reason"],
        decided_by=row["decided_by"],
    )


def redirect_for_state(db: Database, state: str) -> RedirectView | None:
    """The redirect that came back for a link, once it has; the Connect page polls this."""
    rows = list(
        db.query("select id from redirects where state = ? and client_id is not null order by id desc limit 1", [state])
    )
    return redirect_view(db, rows[0]["id"]) if rows else None


def recent_redirects(
    db: Database,
    limit: int = 20,
    *,
    waiting_for_review: bool = False,
    client_id: str | None = None,
    source: str | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Redirects newest first, as the Redirects view lists them, every id with the names the console knows for
    it (client_names, labelled); optionally only those waiting for review, one client's or one source's, and
    from `offset` on (a page of them)."""
    clauses, params = [], []
    if waiting_for_review:
        clauses.append(WAITING_SQL)
    if client_id is not None:
        clauses.append("client_id = ?")
        params.append(client_id)
    if source is not None:
        clauses.append("source = ?")
        params.append(source)
    where = ("where " + " and ".join(clauses)) if clauses else ""
    rows = list(
        db.query(
            f"select * from redirects {where} order by id desc limit ? offset ?",  # noqa: S608 - fixed clauses
            [*params, limit, offset],
        )
    )
    labels = channel_labels(db, (channel_id for row in rows for channel_id in _channel_ids(row)))
    names = client_names(db, (row["client_id"] for row in rows))
    return [
        {
            "id": row["id"],
            "received": utc_text(row["received_at"], zone=True),
            "client": labelled_client(row["client_id"], names),
            "channels": ", ".join(labelled(labels[channel_id]) for channel_id in _ids(row["channels"])),
            "revoked": ", ".join(labelled(labels[channel_id]) for channel_id in _ids(row["revoked"])),
            "state": row["state_match"] or "",
            "verdict": VERDICT_LABELS.get(row["verdict"], row["verdict"] or ""),
            "why": row["verdict_reason"] or row["error"] or "",
            "decided by": row["decided_by"] or "",
            "source": row["source"] or "",
        }
        for row in rows
    ]


def _channel_ids(row: Mapping[str, Any]) -> tuple[str, ...]:
    return (*_ids(row["channels"]), *_ids(row["revoked"]))


def labelled(label: ChannelLabel) -> str:
    """A channel id with its number and display name when the console has them: 'aCH (+34 600 111 222, Cafe)'."""
    known = [value for value in (label.number, label.phone_name) if value]
    return f"{label.channel_id} ({', '.join(known)})" if known else label.channel_id


def client_names(db: Database, client_ids: Iterable[str | None]) -> dict[str, str]:
    """Business names of the clients that have one, in one query per 500 ids."""
    ids = list(dict.fromkeys(client_id for client_id in client_ids if client_id))
    names: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        query = f"select id, name from clients where id in ({marks}) and name is not null"  # noqa: S608
        names.update((row["id"], row["name"]) for row in db.query(query, chunk))
    return names


def labelled_client(client_id: str | None, names: Mapping[str, str]) -> str:
    """'Cafe Olé (aCL)', or the id alone while the business name is not known."""
    if not client_id:
        return ""
    return f"{names[client_id]} ({client_id})" if client_id in names else client_id


def client_label(db: Database, client_id: str | None) -> str:
    return labelled_client(client_id, client_names(db, [client_id]))


def review_items(db: Database, limit: int = 50, *, offset: int = 0, source: str | None = None) -> list[dict[str, Any]]:
    """The redirects waiting for a decision, newest first, a page at a time, with their channels and client
    named as people know them."""
    return recent_redirects(db, limit, waiting_for_review=True, offset=offset, source=source)


def held_count(db: Database, *, source: str | None = None) -> int:
    """Every redirect waiting for a decision (held, pending, or claimed and never decided because a process
    died), however many there are; optionally only one source's."""
    where, params = WAITING_SQL, []
    if source is not None:
        where += " and source = ?"
        params.append(source)
    return db.execute(f"select count(*) from redirects where {where}", params).fetchone()[0]  # noqa: S608


def unreviewed_sources(db: Database) -> list[dict[str, Any]]:
    """Per source, how many stored redirects were never applied or dismissed (unreadable ones included), most
    first: what a bulk discard by source acts on."""
    rows = db.query(
        f"select coalesce(source, ?) as source, count(*) as unreviewed from redirects where {UNREVIEWED_SQL} "  # noqa: S608
        "group by 1 order by unreviewed desc, source",
        [SOURCE_NOT_RECORDED],
    )
    return [dict(row) for row in rows]


def unreviewed_count(db: Database) -> int:
    return db.execute(f"select count(*) from redirects where {UNREVIEWED_SQL}").fetchone()[0]  # noqa: S608


def dropped_redirects(db: Database) -> list[dict[str, Any]]:
    """Redirects not stored because a cap was reached, per source: how many, first and last time, and why."""
    return [
        {
            "source": row["source"],
            "dropped": row["dropped"],
            "first dropped": utc_text(row["first_dropped_at"], zone=True),
            "last dropped": utc_text(row["last_dropped_at"], zone=True),
            "why": row["last_reason"] or "",
        }
        for row in db.query("select * from redirect_drops order by last_dropped_at desc")
    ]


def next_step(channel: Mapping[str, Any] | None, key: str) -> str:
    """What the operator can do next for one channel of a redirect."""
    if channel is not None and channel.get("revoked"):
        if key == "unusable":
            return "permission withdrawn; its stored key is marked unusable"
        return "permission withdrawn; no key can be generated"
    if key == "active":
        return "key exists"
    if key == "stopped":
        return "its key stopped working; generate a new one on the Channels page"
    if key in ("unknown", "pending"):
        return "a key request's result is not known yet; check it on the Channels page"
    status = (channel or {}).get("status")
    if status == "running":
        return "key can be generated"
    return f"waiting for running (now: {status or 'not reported yet'})"


def channel_next_steps(db: Database, view: RedirectView) -> list[dict[str, str]]:
    """Per channel of a redirect, granted then revoked: its number and display name (once known), its status,
    its key, and what comes next; `label` is how the console names it ('+34 600 111 222 (Cafe Olé)')."""
    channel_ids = (*view.channels, *view.revoked)
    labels = channel_labels(db, channel_ids)
    steps = []
    for channel_id in channel_ids:
        channel = get_channel(db, channel_id)
        key = key_status(db, channel_id)
        label = labels[channel_id]
        steps.append(
            {
                "channel": channel_id,
                "label": label.text,
                "number": label.number or "not known yet",
                "name": label.phone_name or "",
                "permission": "revoked" if channel_id in view.revoked else "granted",
                "status": (channel or {}).get("status") or "not reported yet",
                "key": key,
                "next": next_step(channel, key),
            }
        )
    return steps
