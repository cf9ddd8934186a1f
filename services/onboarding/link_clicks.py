"""A click on a console link: look the link up by its token, and sign a new IO Signature for this click.

360dialog accepts an IO Signature for 24 hours and for one start of IO (contract section 3), so the console
signs when the client clicks, not when the operator hands the link out. A click costs one indexed lookup, one
update and a local HMAC: no Partner API call, whatever a stranger sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from services.onboarding.io_link import InvalidLinkParameter
from services.onboarding.links import CLOSED, hub_link, link_status, stored_request

# What secrets.token_urlsafe makes; anything else is refused before the database is asked.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")

UNKNOWN = "unknown"
EXPIRED = "expired"
FINISHED = "finished"
BUSY = "busy"
# Each click is signed for a second of its own (see _signing_second); clicks faster than one a second run ahead
# of the clock, and no further than this: past it a click is asked to come back.
MAX_SECONDS_AHEAD = 30


@dataclass(frozen=True)
class LinkSigning:
    """What a click needs to sign: the partner, its Platform Secret and the digest encoding."""

    partner_id: str
    secret: str | None
    encoding: str = "hex"


@dataclass(frozen=True)
class Click:
    """Where a click goes: `target` (the hub link, freshly signed), or why not (`refusal`)."""

    target: str | None = None
    refusal: str | None = None


def _find(db: Database, token: str) -> dict[str, Any] | None:
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    return next(iter(db.query("select * from io_links where token = ?", [token])), None)


def _record_click(db: Database, token: str, at: datetime) -> None:
    with db.atomic():
        db.execute(
            "update io_links set clicks = clicks + 1, last_click_at = ? where token = ?",
            [at.isoformat(timespec="microseconds"), token],
        )


def _signing_second(db: Database, token: str, now: datetime) -> int | None:
    """A second no other click was signed for, claimed for this one: the signature is HMAC("{partner}|{second}"),
    so two clicks in one second (a double click, two clients) would share it, and 360dialog lets a signature
    start IO once. None when clicks have run too far ahead of the clock."""
    current = int(now.timestamp())
    with db.atomic():
        (last,) = db.execute("select max(io_timestamp) from io_links where token is not null").fetchone()
        second = max(current, (last or 0) + 1)
        if second > current + MAX_SECONDS_AHEAD:
            return None
        db.execute("update io_links set io_timestamp = ? where token = ?", [second, token])
    return second


def follow_link(db: Database, token: str, signing: LinkSigning, *, now: datetime | None = None) -> Click:
    """The hub link for a click on the console link `token`, with the link's parameters and `state` and a new
    IO Signature; or a refusal: unknown token, expired or closed link, or a client already back through it. Every click
    on a known link is counted."""
    link = _find(db, token)
    if link is None:
        return Click(refusal=UNKNOWN)
    current = now or datetime.now(UTC)
    _record_click(db, token, current)
    status = link_status(link, current)
    if status == "redirected":
        return Click(refusal=FINISHED)
    if status == "expired":
        return Click(refusal=EXPIRED)
    if status == CLOSED:
        return Click(refusal=CLOSED)
    second = _signing_second(db, token, current)
    if second is None:
        return Click(refusal=BUSY)
    try:
        target, _ = hub_link(
            signing.partner_id,
            stored_request(link),
            link["state"],
            signing_secret=signing.secret,
            signature_encoding=signing.encoding,
            now=second,
        )
    except (InvalidLinkParameter, ValueError):
        # The parameters were checked when the link was made; a setting changed since (no secret any more).
        return Click(refusal=UNKNOWN)
    return Click(target=target)
