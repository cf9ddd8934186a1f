"""Stores the redirects received back from IO, first and within caps, then has each one decided.

A redirect's walk: `redirect_params` reads the query, `redirect_store` stores it and hands it to
`redirect_decision`, which decides whether it may change anything and applies it when it may. The views of
stored redirects (the review list, a client's redirects, the dropped ones) are in services.read_models.redirects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlite_utils import Database

from services.accounts import Person, enforce
from services.migrations import query_hash
from services.onboarding.redirect_decision import (
    HELD,
    PENDING,
    REFUSED,
    UNREVIEWED_SQL,
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
