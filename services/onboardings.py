"""IO links handed out and redirects received back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.channels import record_granted
from services.redirect import Redirect
from services.store import utc_now


def save_link(
    db: Database, *, state: str, operator: str, url: str, params: dict[str, Any], io_timestamp: int | None
) -> None:
    with db.atomic():
        db["io_links"].insert(
            {
                "state": state,
                "operator": operator,
                "created_at": utc_now(),
                "url": url,
                "params": json.dumps(params),
                "io_timestamp": io_timestamp,
            }
        )


@dataclass(frozen=True)
class StoredRedirect:
    id: int
    is_new: bool
    state_match: str


def _state_match(db: Database, state: str | None) -> str:
    if state is None:
        return "no state"
    return "matched" if db["io_links"].count_where("state = ?", [state]) else "unknown state"


def save_raw_redirect(db: Database, raw_query: str) -> int:
    """Keep the query exactly as it came, before it is parsed, so nothing is lost if parsing fails."""
    with db.atomic():
        db.execute(
            "insert into redirects (raw_query, received_at) values (?, ?) on conflict (raw_query) do nothing",
            [raw_query, utc_now()],
        )
    return int(next(db.query("select id from redirects where raw_query = ?", [raw_query]))["id"])


def save_redirect(db: Database, raw_query: str, redirect: Redirect) -> StoredRedirect:
    """Store a parsed redirect once (a reload finds the same row) and apply its grants and revocations."""
    redirect_id = save_raw_redirect(db, raw_query)
    row = db["redirects"].get(redirect_id)
    if row["client_id"] is not None:
        return StoredRedirect(redirect_id, False, row["state_match"])
    match = _state_match(db, redirect.state)
    with db.atomic():
        db["redirects"].update(
            redirect_id,
            {
                "client_id": redirect.client,
                "channels": json.dumps(list(redirect.channels)),
                "revoked": json.dumps(list(redirect.revoked)),
                "state": redirect.state,
                "state_match": match,
            },
        )
        if match == "matched":
            db.execute(
                "update io_links set used_at = ? where state = ? and used_at is null", [utc_now(), redirect.state]
            )
        record_granted(db, redirect.client, redirect.channels, redirect.revoked)
    return StoredRedirect(redirect_id, True, match)


def recent_links(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    return list(db.query("select * from io_links order by created_at desc limit ?", [limit]))
