"""Decides whether a redirect may change anything, and applies it when it may (contract section 2, design: Trust).

A redirect's walk: `redirect_params` reads the query, `redirect_store` stores it and hands it to
`redirect_decision`, which decides whether it may change anything and applies it when it may.

A redirect is a claim anyone can craft, and ownership is not consent: that 360dialog lists a channel under the
client says nothing about whether the client granted or withdrew anything. So:

- A change to a channel a client already has is applied only when 360dialog confirms that very change: for
  a Direct-Paid partner, `shared_client_numbers` lists the channel (a grant) or no longer does (a
  revocation); for any other partner 360dialog has no word on it, so the redirect waits for an operator.
- A matched `state` (a link handed out here, unexpired) vouches only for channels no client had when the link
  was handed out (unknown here, known without a client, or of a client first seen here since: the webhooks
  of this very onboarding), and only for one client: the first redirect that uses it binds the link to it.
- Every channel 360dialog lists for the redirect must carry the redirect's client id; a channel known here
  under another client is never moved; a channel 360dialog does not list is never created.
- An empty redirect (no channel granted or revoked) confirms nothing and creates no client.

The landing page decides with what the database holds and asks 360dialog nothing: a stranger's redirect
costs no Partner API call. What needs 360dialog's word waits (`pending`) for the scheduler, which asks under
a budget per run, or for an operator's click. Nothing is written to a channel, a key or a client, and so no
alert can fire, before a redirect is applied.

Every decision takes the same steps, and reads each channel the redirect names once:

1. read the channels it names, with their clients, in one query (`read_channels_here`);
2. on arrival, match its `state` to a link handed out here; on review, ask 360dialog (outside any transaction);
3. decide from what was read (`decide_on_arrival`, `confirm_with_360dialog`);
4. apply, in one transaction: bring in the channels 360dialog confirmed, then grant and revoke
   (`services.channels.projection.record_granted`, whose statements keep a channel from moving between clients
   without reading it again); record the decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce, system_person
from services.channels.permission import SharedNumbers, read_shared_numbers
from services.channels.projection import apply_api_channel, record_granted
from services.onboarding.links import CLOSED, get_link, link_status
from services.onboarding.redirect_params import Redirect
from services.partner_api import PartnerApi, PartnerApiError
from services.store import utc_now

REDIRECT_ACTOR = "client (redirect)"
CONFIRMATION_ACTOR = "scheduler (redirect check)"
# The scheduler's confirmations act as a system person, named as the redirects have always recorded it.
CONFIRMATION_PERSON = system_person(CONFIRMATION_ACTOR)
APPLIED_BY_STATE = "applied_state"
APPLIED_CONFIRMED = "applied_confirmed"
APPLIED_BY_OPERATOR = "applied_operator"
PENDING = "pending"
HELD = "held"
REFUSED = "refused"
DISCARDED = "discarded"
APPLIED_VERDICTS = frozenset({APPLIED_BY_STATE, APPLIED_CONFIRMED, APPLIED_BY_OPERATOR, "applied_unchecked"})
VERDICT_LABELS = {
    APPLIED_BY_STATE: "applied (its state matched a link handed out here)",
    APPLIED_CONFIRMED: "applied (360dialog confirmed the change)",
    APPLIED_BY_OPERATOR: "applied by an operator after checking with 360dialog",
    "applied_unchecked": "applied before redirects were checked",
    PENDING: "waiting for 360dialog's confirmation",
    HELD: "held for review",
    REFUSED: "refused (it cannot be read)",
    DISCARDED: "discarded by an operator",
    None: "not decided yet",
}
# Waiting for a decision: held, pending, or claimed and never decided (the process stopped between the two).
WAITING_SQL = "(verdict in ('held', 'pending') or (verdict is null and client_id is not null))"
# Stored and never applied or dismissed: what the caps on a stranger's redirects count (services.onboarding.
# redirects). The same expression as the partial index of migration m017, so that counting reads the index.
UNREVIEWED_SQL = "(verdict is null or verdict in ('pending', 'held', 'refused'))"
# Redirects stored before sources were recorded (migration m017) are listed, and discarded, under this name.
SOURCE_NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Decision:
    """A redirect's verdict, why, and what applying it did."""

    verdict: str
    reason: str
    keys_marked_unusable: int = 0
    # How its state related to the links handed out (set when the redirect first arrived).
    state_match: str | None = None


# -- step 1, every decision: the channels the redirect names, read once ---------------------------------------


def _ids(redirect: Redirect) -> tuple[str, ...]:
    return (*redirect.channels, *redirect.revoked)


@dataclass(frozen=True)
class ChannelHere:
    """A channel a redirect names, as this console holds it: all that deciding the redirect reads of it."""

    client_id: str | None
    phone_number: str | None
    # When the channel's client was first seen here; None when the channel has no client (or it has no row).
    client_first_seen_at: str | None


# Every channel a redirect names, by id; None for a channel not known here.
ChannelsHere = Mapping[str, ChannelHere | None]

_CHANNELS_HERE_SQL = """
    select named.value, channels.id is not null, channels.client_id, channels.phone_number, clients.first_seen_at
    from json_each(?) as named
    left join channels on channels.id = named.value
    left join clients on clients.id = channels.client_id
"""


def read_channels_here(db: Database, redirect: Redirect) -> dict[str, ChannelHere | None]:
    """The first step of every decision: the channels the redirect names, with their clients, in one query.
    What follows decides from this snapshot and reads no channel again."""
    rows = db.execute(_CHANNELS_HERE_SQL, [json.dumps(_ids(redirect))]).fetchall()
    found = {
        channel_id: ChannelHere(client_id, phone_number, first_seen_at)
        for channel_id, known, client_id, phone_number, first_seen_at in rows
        if known
    }
    return {channel_id: found.get(channel_id) for channel_id in _ids(redirect)}


# -- on arrival: the state, then what the database alone allows ------------------------------------------------


def state_match(db: Database, redirect: Redirect) -> tuple[str, dict[str, Any] | None]:
    """How the redirect's `state` relates to the links handed out: only 'matched' vouches for anything."""
    if redirect.state is None:
        return "no state", None
    link = get_link(db, redirect.state)
    if link is None:
        return "unknown state", None
    if link.get("client_id") not in (None, redirect.client):
        return "already used", link
    status = link_status({**link, "used_at": None})
    if status == "expired":
        return "expired link", link
    if status == CLOSED:
        return "closed link", link
    return "matched", link


def _bind_link(db: Database, redirect_id: int, redirect: Redirect) -> bool:
    """The first redirect that uses a link binds it to its client; False when another client got there first.
    Call inside a transaction."""
    return bool(
        db.execute(
            "update io_links set used_at = coalesce(used_at, ?), redirect_id = coalesce(redirect_id, ?), client_id = ? "
            "where state = ? and (client_id is null or client_id = ?)",
            [utc_now(), redirect_id, redirect.client, redirect.state, redirect.client],
        ).rowcount
    )


def _vouching_link(db: Database, redirect_id: int, redirect: Redirect, here: ChannelsHere) -> tuple[str, str | None]:
    """How the redirect's state matched, and when the link that vouches for it was handed out (None: no link
    vouches). Only a redirect that could ever apply binds the link: a forged one cannot use up a client's link.
    Call inside a transaction."""
    match, link = state_match(db, redirect)
    if match == "matched" and _never(redirect, here) is None and not _bind_link(db, redirect_id, redirect):
        match = "already used"
    return match, (link["created_at"] if match == "matched" and link is not None else None)


def _never(redirect: Redirect, here: ChannelsHere) -> str | None:
    """Why no one may apply this redirect, whatever 360dialog says; None when someone may."""
    if not _ids(redirect):
        return "it names no channel, so it confirms nothing (and creates no client)"
    others = [
        channel_id
        for channel_id in _ids(redirect)
        if (channel := here[channel_id]) and channel.client_id and channel.client_id != redirect.client
    ]
    if others:
        return f"{', '.join(others)} belong(s) to another client here; a redirect never moves a channel"
    return None


def _new_since(channel: ChannelHere | None, since: str | None) -> bool:
    """Whether no client had the channel when the link was handed out (at `since`; None: no link vouches)."""
    if since is None:
        return False
    if not channel or not channel.client_id:
        return True
    return bool(channel.client_first_seen_at and channel.client_first_seen_at >= since)


def decide_on_arrival(
    redirect: Redirect, here: ChannelsHere, *, vouched_since: str | None, direct_paid: bool
) -> Decision:
    """What the landing page may decide with no word from 360dialog, from the channels as held `here`: apply
    what a matched state (of a link handed out at `vouched_since`) vouches for, when every channel is known
    here; hold what can never apply or only an operator can confirm; leave the rest pending for the scheduler
    to confirm with 360dialog."""
    never = _never(redirect, here)
    if never:
        return Decision(HELD, never)
    needs_consent = [channel_id for channel_id, channel in here.items() if not _new_since(channel, vouched_since)]
    not_known = [channel_id for channel_id, channel in here.items() if channel is None]
    if not needs_consent and not not_known:
        return Decision(APPLIED_BY_STATE, VERDICT_LABELS[APPLIED_BY_STATE])
    if needs_consent and not direct_paid:
        return Decision(HELD, _operator_only(needs_consent, vouched_since is not None))
    return Decision(PENDING, "360dialog has not been asked yet; the scheduler asks within its next run")


def _operator_only(channel_ids: list[str], vouched: bool) -> str:
    what = "had a client before the link was handed out" if vouched else "are not vouched for by a link handed out here"
    return (
        f"{', '.join(channel_ids)} {what}; for a partner that is not Direct-Paid 360dialog cannot confirm a "
        "grant or a revocation, so an operator decides"
    )


def settle_on_arrival(db: Database, redirect_id: int, redirect: Redirect, *, direct_paid: bool = False) -> Decision:
    """Decide a newly claimed redirect with what the database holds, and apply it when a matched state vouches
    for all of it. Asks 360dialog nothing. In one transaction: read the channels it names, match its state to
    a link (binding the link), decide, apply when vouched for, record the decision."""
    with db.atomic():
        here = read_channels_here(db, redirect)
        match, since = _vouching_link(db, redirect_id, redirect, here)
        decision = decide_on_arrival(redirect, here, vouched_since=since, direct_paid=direct_paid)
        if decision.verdict == APPLIED_BY_STATE:
            decision = _apply(db, redirect, [], APPLIED_BY_STATE)
        decision = Decision(decision.verdict, decision.reason, decision.keys_marked_unusable, match)
        _record(db, redirect_id, decision, decided_by=REDIRECT_ACTOR)
    return decision


# -- on review: what 360dialog confirms ------------------------------------------------------------------------


def _listed_client(channel: Mapping[str, Any]) -> str | None:
    client = channel.get("client")
    return channel.get("client_id") or (client.get("id") if isinstance(client, dict) else None)


def list_client_channels(api: PartnerApi, client_id: str) -> dict[str, dict[str, Any]]:
    """The client's channels as 360dialog lists them (a `client_id` filter), by id. Raises PartnerApiError."""
    return {str(channel.get("id")): channel for channel, _total in api.iter_channels(filters={"client_id": client_id})}


def _listing_problem(redirect: Redirect, listed: Mapping[str, Mapping[str, Any]]) -> str | None:
    missing = [channel_id for channel_id in _ids(redirect) if channel_id not in listed]
    if missing:
        return f"360dialog does not list {', '.join(missing)} among client {redirect.client}'s channels"
    elsewhere = [channel_id for channel_id in _ids(redirect) if _listed_client(listed[channel_id]) != redirect.client]
    if elsewhere:
        return f"360dialog lists {', '.join(elsewhere)} under another client (or none), not {redirect.client}"
    return None


def _shared_covers(
    shared: SharedNumbers, channel_id: str, listed: Mapping[str, Any], channel: ChannelHere | None
) -> bool:
    number = (listed.get("setup_info") or {}).get("phone_number") or (channel.phone_number if channel else None)
    return shared.covers({"id": channel_id, "phone_number": number})


def _consent_problem(
    redirect: Redirect,
    here: ChannelsHere,
    listed: Mapping[str, Mapping[str, Any]],
    *,
    vouched_since: str | None,
    shared: SharedNumbers | None,
    by_operator: bool,
    direct_paid: bool,
) -> str | None:
    """Why a change the redirect claims is not confirmed; None when every one is."""
    unconfirmed = []
    for channel_id in _ids(redirect):
        channel = here[channel_id]
        if _new_since(channel, vouched_since):
            continue  # a new channel, and the link handed out for this onboarding vouches for it
        if direct_paid:
            # Listed as shared confirms a grant; not listed (or shared: false) confirms a revocation.
            shared_now = shared is not None and _shared_covers(shared, channel_id, listed[channel_id], channel)
            if shared is None or shared_now != (channel_id in redirect.channels):
                unconfirmed.append(channel_id)
        elif not by_operator:
            unconfirmed.append(channel_id)
    if not unconfirmed:
        return None
    if direct_paid and shared is None:
        return f"360dialog's shared numbers could not be read, so nothing confirms {', '.join(unconfirmed)}"
    if direct_paid:
        return f"360dialog's shared numbers do not show the change the redirect claims for {', '.join(unconfirmed)}"
    return _operator_only(unconfirmed, vouched_since is not None)


def _ask_shared(api: PartnerApi, redirect: Redirect) -> SharedNumbers | None:
    return read_shared_numbers(api.shared_client_numbers(redirect.client))


def confirm_with_360dialog(
    api: PartnerApi,
    redirect: Redirect,
    here: ChannelsHere,
    *,
    vouched_since: str | None,
    direct_paid: bool,
    by_operator: bool,
) -> tuple[str | None, list[dict[str, Any]]]:
    """(None, channels to bring in) when 360dialog confirms every change the redirect claims, else (why not,
    []), judged against the channels as held `here`. Asked outside any transaction; raises PartnerApiError when
    360dialog cannot be asked."""
    never = _never(redirect, here)
    if never:
        return never, []
    listed = list_client_channels(api, redirect.client)
    problem = _listing_problem(redirect, listed)
    if problem:
        return problem, []
    shared = _ask_shared(api, redirect) if direct_paid else None
    problem = _consent_problem(
        redirect,
        here,
        listed,
        vouched_since=vouched_since,
        shared=shared,
        by_operator=by_operator,
        direct_paid=direct_paid,
    )
    if problem:
        return problem, []
    return None, [listed[channel_id] for channel_id in _ids(redirect) if here[channel_id] is None]


# -- applying and recording, whoever decided ---------------------------------------------------------------------


def _apply(db: Database, redirect: Redirect, confirmed: list[dict[str, Any]], verdict: str) -> Decision:
    """Bring in the channels 360dialog confirmed, then grant and revoke (each write checks, in its own
    statement, that the channel is there and of this client or none); the decision, with how many stored keys
    became unusable. Call inside a transaction."""
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
    return Decision(verdict, VERDICT_LABELS[verdict], sum(unusable.values()))


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


# -- the scheduler's and the operators' reviews of a waiting redirect ------------------------------------------


@dataclass(frozen=True)
class _Waiting:
    """A redirect waiting for 360dialog's word or an operator's, as read before 360dialog is asked."""

    id: int
    verdict: str | None
    redirect: Redirect
    # When the link that vouches for it was handed out; None when no link vouches for it.
    vouched_since: str | None
    here: ChannelsHere


def _waiting_redirect(db: Database, redirect_id: int) -> tuple[dict[str, Any], Redirect]:
    """A stored redirect waiting for review, as its row and as read. Raises ValueError when it is not waiting."""
    row = db["redirects"].get(redirect_id)
    if row["verdict"] not in (HELD, PENDING, None) or not row["client_id"]:
        raise ValueError(f"redirect {redirect_id} is not waiting for review")
    redirect = Redirect(
        client=row["client_id"],
        channels=tuple(json.loads(row["channels"] or "[]")),
        revoked=tuple(json.loads(row["revoked"] or "[]")),
        state=row["state"],
    )
    return row, redirect


def _read_waiting(db: Database, redirect_id: int) -> _Waiting:
    """The first step of a review: the stored redirect, the link that vouches for it and the channels it names
    (read once). Raises ValueError when it is not waiting for review."""
    row, redirect = _waiting_redirect(db, redirect_id)
    return _Waiting(redirect_id, row["verdict"], redirect, _vouched_since(db, row), read_channels_here(db, redirect))


def _still_waiting(db: Database, redirect_id: int) -> bool:
    """Nobody decided it in the meantime (an operator and the scheduler may check the same redirect)."""
    return db.execute(f"select 1 from redirects where id = ? and {WAITING_SQL}", [redirect_id]).fetchone() is not None  # noqa: S608


def _vouched_since(db: Database, row: Mapping[str, Any]) -> str | None:
    """When the link that vouches for a stored redirect was handed out; None when no link vouches for it."""
    if row["state_match"] != "matched" or not row["state"]:
        return None
    link = get_link(db, row["state"])
    return link["created_at"] if link is not None and link.get("client_id") == row["client_id"] else None


def _ask_360dialog(
    api: PartnerApi, waiting: _Waiting, *, direct_paid: bool, by_operator: bool
) -> tuple[str | None, list[dict[str, Any]]]:
    return confirm_with_360dialog(
        api,
        waiting.redirect,
        waiting.here,
        vouched_since=waiting.vouched_since,
        direct_paid=direct_paid,
        by_operator=by_operator,
    )


def apply_after_review(
    db: Database, api: PartnerApi, redirect_id: int, *, actor: Person, direct_paid: bool = False
) -> Decision:
    """An operator applies a waiting redirect after 360dialog is asked: the operator's word confirms a grant or
    revocation 360dialog cannot speak to (not Direct-Paid), never one 360dialog contradicts. Otherwise it stays
    held, with the reason. The steps: read the redirect and its channels, ask 360dialog (outside any
    transaction), then apply or hold in one transaction. Raises NotAllowed (audited) when the actor's role may
    not apply redirects, and PartnerApiError when 360dialog cannot be asked (nothing changes either way)."""
    enforce(db, actor, "apply_redirect")
    waiting = _read_waiting(db, redirect_id)
    problem, confirmed = _ask_360dialog(api, waiting, direct_paid=direct_paid, by_operator=True)
    with db.atomic():
        if not _still_waiting(db, redirect_id):
            raise ValueError(f"redirect {redirect_id} was decided in the meantime")
        if problem is not None:
            decision = Decision(HELD, problem)
            _record(db, redirect_id, decision, decided_by=actor.id)
            audit.record(db, **audit_fields(actor), action="redirect_apply", outcome="refused", detail=problem)
            return decision
        decision = _apply(db, waiting.redirect, confirmed, APPLIED_BY_OPERATOR)
        _record(db, redirect_id, decision, decided_by=actor.id)
        audit.record(
            db, **audit_fields(actor), action="redirect_apply", outcome="ok", detail=f"redirect #{redirect_id}"
        )
    return decision


def confirm_pending(
    db: Database, api: PartnerApi, redirect_id: int, *, direct_paid: bool, actor: Person = CONFIRMATION_PERSON
) -> Decision:
    """The scheduler asks 360dialog about one pending redirect: applied when 360dialog confirms every change,
    held (for an operator) when it does not; when 360dialog cannot be asked it stays pending for the next run.
    The steps: read the redirect and its channels, ask 360dialog (outside any transaction), then record the
    answer, applying what it confirms, in one transaction."""
    waiting = _read_waiting(db, redirect_id)
    try:
        problem, confirmed = _ask_360dialog(api, waiting, direct_paid=direct_paid, by_operator=False)
    except PartnerApiError as error:
        problem, confirmed = None, None
        reason = f"360dialog could not be asked ({error.kind}); asked again on the next run"
    with db.atomic():
        if not _still_waiting(db, redirect_id):
            return Decision(waiting.verdict or HELD, "decided in the meantime")
        db.execute("update redirects set checked_at = ? where id = ?", [utc_now(), redirect_id])
        if confirmed is None:
            decision = Decision(PENDING, reason)
        elif problem is not None:
            decision = Decision(HELD, problem)
        else:
            verdict = APPLIED_BY_STATE if waiting.vouched_since and not direct_paid else APPLIED_CONFIRMED
            decision = _apply(db, waiting.redirect, confirmed, verdict)
        _record(db, redirect_id, decision, decided_by=actor.id)
    return decision


def confirm_waiting_redirects(
    db: Database, api: PartnerApi, *, direct_paid: bool, budget: int, actor: Person = CONFIRMATION_PERSON
) -> list[Decision]:
    """One scheduler run's confirmations: at most `budget` pending redirects, those checked least recently
    first, each costing one or two Partner API calls. Raises NotAllowed (audited) first when the actor's role
    may not apply redirects."""
    enforce(db, actor, "apply_redirect")
    rows = db.execute(
        "select id from redirects where verdict = 'pending' order by checked_at is not null, checked_at, id limit ?",
        [budget],
    ).fetchall()
    return [confirm_pending(db, api, redirect_id, direct_paid=direct_paid, actor=actor) for (redirect_id,) in rows]


def discard(db: Database, redirect_id: int, *, actor: Person) -> Decision:
    """An operator decides a waiting redirect changes nothing. Raises NotAllowed (audited) when the actor's role
    may not discard redirects."""
    enforce(db, actor, "discard_redirect")
    _waiting_redirect(db, redirect_id)
    decision = Decision(DISCARDED, f"discarded by {actor.id}")
    with db.atomic():
        _record(db, redirect_id, decision, decided_by=actor.id)
        audit.record(
            db, **audit_fields(actor), action="redirect_discard", outcome="ok", detail=f"redirect #{redirect_id}"
        )
    return decision


def discard_unreviewed(db: Database, *, actor: Person, source: str | None = None) -> int:
    """An operator discards, in one action, every redirect stored and never applied or dismissed (waiting for
    review, or unreadable), or only those from one source; audited with how many. Returns how many. Raises
    NotAllowed (audited) when the actor's role may not discard redirects."""
    enforce(db, actor, "discard_redirect")
    where, params = UNREVIEWED_SQL, []
    if source is not None:
        where += " and coalesce(source, ?) = ?"
        params.extend([SOURCE_NOT_RECORDED, source])
    scope = f"from {source}" if source is not None else "from every source"
    with db.atomic():
        count = db.execute(
            f"update redirects set verdict = ?, verdict_reason = ?, decided_by = ?, decided_at = ? where {where}",  # noqa: S608
            [DISCARDED, f"discarded in bulk by {actor.id}", actor.id, utc_now(), *params],
        ).rowcount
        audit.record(
            db,
            **audit_fields(actor),
            action="redirect_discard_bulk",
            outcome="ok",
            detail=f"{count} unreviewed redirect(s) {scope} discarded",
        )
    return count
