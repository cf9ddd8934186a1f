"""Whether a redirect may change anything, and applying it when it may (contract section 2, design: Trust).

A redirect is a claim anyone can craft. It is applied only when its `state` matches an unused, unexpired
link this console handed out, or when the Partner API confirms it: the client's channels, listed with a
`client_id` filter, hold every granted and revoked id. Otherwise it is held for an operator, who applies it
(after the same Partner API check) or discards it. Applying never moves a channel that belongs to another
client, and never creates a channel row 360dialog has not confirmed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services import audit
from services.channels.projection import apply_api_channel, get_channel, record_granted
from services.onboarding.links import get_link, link_status
from services.onboarding.redirect import Redirect
from services.partner_api import PartnerApi, PartnerApiError
from services.store import utc_now

REDIRECT_ACTOR = "client (redirect)"
APPLIED_BY_STATE = "applied_state"
APPLIED_CONFIRMED = "applied_confirmed"
APPLIED_BY_OPERATOR = "applied_operator"
HELD = "held"
REFUSED = "refused"
DISCARDED = "discarded"
APPLIED_VERDICTS = frozenset({APPLIED_BY_STATE, APPLIED_CONFIRMED, APPLIED_BY_OPERATOR, "applied_unchecked"})
VERDICT_LABELS = {
    APPLIED_BY_STATE: "applied (its state matched a link handed out here)",
    APPLIED_CONFIRMED: "applied (360dialog confirmed the channels)",
    APPLIED_BY_OPERATOR: "applied by an operator after 360dialog confirmed it",
    "applied_unchecked": "applied before redirects were checked",
    HELD: "held for review",
    REFUSED: "refused (it cannot be read)",
    DISCARDED: "discarded by an operator",
    None: "not decided yet",
}


@dataclass(frozen=True)
class Decision:
    verdict: str
    reason: str
    keys_marked_unusable: int = 0
    # How its state related to the links handed out (set when the redirect first arrived).
    state_match: str | None = None


def state_match(db: Database, redirect_id: int, state: str | None) -> tuple[str, dict[str, Any] | None]:
    """How the redirect's `state` relates to the links handed out: only 'matched' vouches for it."""
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


def _ids(redirect: Redirect) -> tuple[str, ...]:
    return (*redirect.channels, *redirect.revoked)


def _other_clients(db: Database, redirect: Redirect) -> list[str]:
    """Channels the redirect names that this console knows under another client."""
    conflicts = []
    for channel_id in _ids(redirect):
        channel = get_channel(db, channel_id)
        if channel and channel.get("client_id") and channel["client_id"] != redirect.client:
            conflicts.append(channel_id)
    return conflicts


def _unknown(db: Database, redirect: Redirect) -> list[str]:
    return [channel_id for channel_id in _ids(redirect) if get_channel(db, channel_id) is None]


def confirm_with_partner_api(api: PartnerApi, redirect: Redirect) -> tuple[list[dict[str, Any]] | None, str]:
    """The client's channels as 360dialog lists them when they hold every id of the redirect, else None and
    why. Raises PartnerApiError when 360dialog cannot be asked."""
    listed = [channel for channel, _total in api.iter_channels(filters={"client_id": redirect.client})]
    known = {channel.get("id") for channel in listed}
    missing = [channel_id for channel_id in _ids(redirect) if channel_id not in known]
    if missing:
        return None, f"360dialog does not list {', '.join(missing)} among client {redirect.client}'s channels"
    return listed, f"360dialog lists every channel of the redirect under client {redirect.client}"


def _check(db: Database, api: PartnerApi | None, redirect: Redirect, vouched: bool) -> tuple[str | None, list]:
    """(None, channels to bring in) when the redirect may be applied, else (why not, [])."""
    conflicts = _other_clients(db, redirect)
    if conflicts:
        return f"{', '.join(conflicts)} belong(s) to another client here; a redirect never moves a channel", []
    unknown = _unknown(db, redirect)
    if vouched and not unknown:
        return None, []
    if api is None:
        return "not confirmed: the Partner API was not asked", []
    try:
        listed, why = confirm_with_partner_api(api, redirect)
    except PartnerApiError as error:
        return f"not confirmed: the Partner API could not be asked ({error.kind})", []
    if listed is None:
        return why, []
    return None, [channel for channel in listed if channel.get("id") in unknown]


def settle(db: Database, redirect_id: int, redirect: Redirect, api: PartnerApi | None) -> Decision:
    """Decide a newly claimed redirect and apply it when trusted; the Partner API is asked outside any
    transaction. Held redirects change nothing."""
    match, link = state_match(db, redirect_id, redirect.state)
    vouched = match == "matched"
    problem, confirmed = _check(db, api, redirect, vouched)
    with db.atomic():
        if problem is not None:
            decision = Decision(HELD, problem, state_match=match)
        else:
            if vouched and link is not None and not link["used_at"]:
                db.execute(
                    "update io_links set used_at = ?, redirect_id = ? where state = ?",
                    [utc_now(), redirect_id, link["state"]],
                )
            verdict = APPLIED_BY_STATE if vouched else APPLIED_CONFIRMED
            decision = _apply(db, redirect, confirmed, verdict, state_match=match)
        _record(db, redirect_id, decision, decided_by=REDIRECT_ACTOR)
    return decision


def _apply(
    db: Database, redirect: Redirect, confirmed: list[dict[str, Any]], verdict: str, state_match: str | None = None
) -> Decision:
    """Bring in the channels 360dialog confirmed, then grant and revoke; the decision, with how many stored
    keys became unusable. Call inside a transaction."""
    for channel in confirmed:
        apply_api_channel(db, channel)
    unusable = record_granted(db, redirect.client, redirect.channels, redirect.revoked)
    for channel_id, count in unusable.items():
        audit.record(
            db,
            operator=REDIRECT_ACTOR,
            action="permission_revoked",
            channel_id=channel_id,
            outcome="ok",
            detail=f"{count} stored key(s) marked unusable",
        )
    return Decision(verdict, VERDICT_LABELS[verdict], sum(unusable.values()), state_match)


def _record(db: Database, redirect_id: int, decision: Decision, *, decided_by: str) -> None:
    changes = {
        "verdict": decision.verdict,
        "verdict_reason": decision.reason,
        "decided_by": decided_by,
        "decided_at": utc_now(),
    }
    if decision.verdict in APPLIED_VERDICTS:
        changes["keys_marked_unusable"] = decision.keys_marked_unusable
    if decision.state_match is not None:
        changes["state_match"] = decision.state_match
    assignments = ", ".join(f"{column} = ?" for column in changes)
    db.execute(f"update redirects set {assignments} where id = ?", [*changes.values(), redirect_id])  # noqa: S608


def _held(db: Database, redirect_id: int) -> tuple[dict[str, Any], Redirect]:
    row = db["redirects"].get(redirect_id)
    if row["verdict"] not in (HELD, None) or not row["client_id"]:
        raise ValueError(f"redirect {redirect_id} is not waiting for review")
    redirect = Redirect(
        client=row["client_id"],
        channels=tuple(json.loads(row["channels"] or "[]")),
        revoked=tuple(json.loads(row["revoked"] or "[]")),
        state=row["state"],
    )
    return row, redirect


def apply_after_review(db: Database, api: PartnerApi, redirect_id: int, *, operator: str) -> Decision:
    """An operator applies a held redirect: only once 360dialog confirms it; otherwise it stays held."""
    _, redirect = _held(db, redirect_id)
    problem, confirmed = _check(db, api, redirect, vouched=False)
    with db.atomic():
        if problem is not None:
            decision = Decision(HELD, problem)
            _record(db, redirect_id, decision, decided_by=operator)
            audit.record(db, operator=operator, action="redirect_apply", outcome="refused", detail=problem)
            return decision
        decision = _apply(db, redirect, confirmed, APPLIED_BY_OPERATOR)
        _record(db, redirect_id, decision, decided_by=operator)
        audit.record(db, operator=operator, action="redirect_apply", outcome="ok", detail=f"redirect #{redirect_id}")
    return decision


def discard(db: Database, redirect_id: int, *, operator: str) -> Decision:
    """An operator decides a held redirect changes nothing."""
    _held(db, redirect_id)
    decision = Decision(DISCARDED, f"discarded by {operator}")
    with db.atomic():
        _record(db, redirect_id, decision, decided_by=operator)
        audit.record(db, operator=operator, action="redirect_discard", outcome="ok", detail=f"redirect #{redirect_id}")
    return decision
