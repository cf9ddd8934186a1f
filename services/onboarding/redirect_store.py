"""Stores the redirects received back from IO, first and within caps, then has each one decided.

A redirect's walk: `redirect_params` reads the query, `redirect_store` stores it and hands it to
`redirect_decision`, which decides whether it may change anything and applies it when it may.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlite_utils import Database

from services.accounts import Person, enforce
from services.channels.labels import ChannelLabel, channel_labels
from services.channels.projection import get_channel
from services.keys.generation import key_status
from services.migrations import query_hash
from services.onboarding.redirect_decision import (
    APPLIED_VERDICTS,
    HELD,
    PENDING,
    REFUSED,
    SOURCE_NOT_RECORDED,
    UNREVIEWED_SQL,
    VERDICT_LABELS,
    WAITING_SQL,
    apply_after_review,
    settle_on_arrival,
)
from services.onboarding.redirect_params import (
    MAX_QUERY_LENGTH,
    InvalidRedirect,
    Redirect,
    canonical_query,
    parse_redirect,
    split_query,
)
from services.partner_api import PartnerApi
from services.settings import RedirectLimits
from services.store import utc_now

LOCAL_SOURCE = "local"


@dataclass(frozen=True)
class StoredRedirect:
    id: int | None
    is_new: bool
    state_match: str | None
    error: str | None = None
    keys_marked_unusable: int = 0
    verdict: str | None = None
    # Not stored: a cap on unreviewed redirects was reached (counted in redirect_drops).
    dropped: bool = False


DROPPED = StoredRedirect(None, False, None, dropped=True)


def _stored_id(db: Database, raw_query: str) -> int | None:
    row = db.execute("select id from redirects where query_hash = ?", [query_hash(raw_query)]).fetchone()
    return row[0] if row else None


def _over_cap(db: Database, source: str, limits: RedirectLimits) -> str | None:
    """Which cap a new redirect from `source` would pass, or None. Call inside the storing transaction."""
    from_source = db.execute(
        f"select count(*) from redirects where source = ? and {UNREVIEWED_SQL}",  # noqa: S608
        [source],
    ).fetchone()[0]
    if from_source >= limits.per_source:
        return f"{limits.per_source} unreviewed redirects from this source"
    total = db.execute(f"select count(*) from redirects where {UNREVIEWED_SQL}").fetchone()[0]  # noqa: S608
    if total >= limits.total:
        return f"{limits.total} unreviewed redirects in all"
    return None


def record_drop(db: Database, source: str, reason: str) -> None:
    """Count a redirect that was not stored, per source, with when and why. Call inside a transaction or not."""
    now = utc_now()
    with db.atomic():
        db.execute(
            "insert into redirect_drops (source, dropped, first_dropped_at, last_dropped_at, last_reason) "
            "values (?, 1, ?, ?, ?) on conflict (source) do update set dropped = dropped + 1, "
            "last_dropped_at = excluded.last_dropped_at, last_reason = excluded.last_reason",
            [source, now, now, reason],
        )


def save_raw_redirect(
    db: Database, raw_query: str, *, source: str = LOCAL_SOURCE, limits: RedirectLimits | None = None
) -> int | None:
    """Keep the query exactly as it came, before it is parsed, so nothing is lost if parsing fails. The same
    query again finds its row; a new one past a cap is not stored but counted (None)."""
    existing = _stored_id(db, raw_query)
    if existing is not None:
        return existing
    with db.atomic():
        over = _over_cap(db, source, limits) if limits is not None else None
        if over is None:
            db.execute(
                "insert into redirects (raw_query, query_hash, source, received_at) values (?, ?, ?, ?) "
                "on conflict (query_hash) do nothing",
                [raw_query, query_hash(raw_query), source, utc_now()],
            )
        else:
            record_drop(db, source, f"cap reached: {over}")
    return _stored_id(db, raw_query)


def save_redirect(
    db: Database,
    raw_query: str,
    redirect: Redirect,
    api: PartnerApi | None = None,
    *,
    actor: Person | None = None,
    direct_paid: bool = False,
) -> StoredRedirect:
    """Store a parsed redirect once (a reload finds the same row), then decide it with what the database holds
    (services.onboarding.redirect_decision). With `api` and `actor` (a person's own action, as the demo
    controls are), 360dialog is asked at once and the person's word counts; otherwise anything that needs
    360dialog's word waits for the scheduler or an operator. With an `actor` whose role may not apply redirects,
    raises NotAllowed (audited) and stores nothing."""
    if actor is not None:
        enforce(db, actor, "apply_redirect")
    redirect_id = save_raw_redirect(db, raw_query)
    with db.atomic():
        # The conditional update takes the write lock first, so two tabs landing together decide it once.
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
        return _as_found(db, redirect_id)
    decision = settle_on_arrival(db, redirect_id, redirect, direct_paid=direct_paid)
    if api is not None and actor is not None and decision.verdict in (HELD, PENDING):
        applied = apply_after_review(db, api, redirect_id, actor=actor, direct_paid=direct_paid)
        decision = replace(applied, state_match=decision.state_match)
    return StoredRedirect(
        redirect_id,
        True,
        decision.state_match,
        verdict=decision.verdict,
        keys_marked_unusable=decision.keys_marked_unusable,
    )


def _as_found(db: Database, redirect_id: int) -> StoredRedirect:
    row = db["redirects"].get(redirect_id)
    return StoredRedirect(
        redirect_id,
        False,
        row["state_match"],
        error=row["error"],
        verdict=row["verdict"],
        keys_marked_unusable=row["keys_marked_unusable"] or 0,
    )


def record_redirect_error(db: Database, redirect_id: int, error: str) -> None:
    with db.atomic():
        db.execute(
            "update redirects set error = ?, verdict = ?, verdict_reason = ? where id = ? and client_id is null",
            [error, REFUSED, error, redirect_id],
        )


def stored_query(query: str | Mapping[str, str | list[str]]) -> str:
    """The query as it is kept: as received, or written back from st.query_params, capped at one character
    past the limit, so that reading the stored text still says it is too long."""
    raw_query = query.removeprefix("?") if isinstance(query, str) else canonical_query(split_query(query))
    return raw_query[: MAX_QUERY_LENGTH + 1]


def is_stored(db: Database, query: str | Mapping[str, str | list[str]]) -> bool:
    """Whether this very query is stored already (a reload of the landing page)."""
    return _stored_id(db, stored_query(query)) is not None


def receive_redirect(
    db: Database,
    query: str | Mapping[str, str | list[str]],
    *,
    source: str = LOCAL_SOURCE,
    limits: RedirectLimits | None = None,
    direct_paid: bool = False,
) -> StoredRedirect:
    """The landing page's one call: store the query as received (within the caps), then read it and decide it
    with what the database holds. Asks 360dialog nothing: a stranger's request costs no Partner API call.

    A query that cannot be read stays stored with the reason; the same query again finds the same row.
    """
    raw_query = stored_query(query)
    redirect_id = save_raw_redirect(db, raw_query, source=source, limits=limits or RedirectLimits())
    if redirect_id is None:
        return DROPPED
    try:
        # Read from the stored text, so that what is applied is exactly what is kept (length limit included).
        redirect = parse_redirect(raw_query)
    except InvalidRedirect as error:
        record_redirect_error(db, redirect_id, str(error))
        return StoredRedirect(redirect_id, False, None, error=str(error), verdict=REFUSED)
    return save_redirect(db, raw_query, redirect, direct_paid=direct_paid)


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
            "received": row["received_at"][:19].replace("T", " ") + " UTC",
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
    known = [value for value in (label.phone_number, label.phone_name) if value]
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
            "first dropped": row["first_dropped_at"][:19].replace("T", " ") + " UTC",
            "last dropped": row["last_dropped_at"][:19].replace("T", " ") + " UTC",
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
                "number": label.phone_number or "not known yet",
                "name": label.phone_name or "",
                "permission": "revoked" if channel_id in view.revoked else "granted",
                "status": (channel or {}).get("status") or "not reported yet",
                "key": key,
                "next": next_step(channel, key),
            }
        )
    return steps
