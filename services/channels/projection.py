"""Current state of clients and channels, projected from webhooks, redirects and Partner API syncs.

Every webhook that names a channel passes through here, so the writes are plain SQL statements that SQLite
prepares once per connection: the rules below (no step back in the lifecycle, quality history) are decided
inside the statement, from the row as it is, without reading it first.

One merge writes a channel row whatever the source (`_merge_columns`): what differs between a webhook, a
Partner API sync and a direct write (a redirect's confirmed channel, a permission check) is data, the source's
`MergeRules`. It runs as an upsert (`_channel_upsert_sql`), or for a webhook as an update of the columns the
event's facts can change (`_channel_update_sql`), the upsert only when the channel is new. A redirect's grant or
revocation only updates (`record_granted`): it never creates a channel."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from services.events.webhook import ChannelFacts, WebhookEvent, waba_facts
from services.store import utc_now

# A lifecycle status never moves back to an earlier stage because an old event arrived late.
STAGE_ORDER = {"created": 0, "pending": 0, "submitted": 1, "ready": 2, "running": 3}


def _stage(column: str) -> str:
    cases = " ".join(f"when '{name}' then {rank}" for name, rank in STAGE_ORDER.items())
    return f"(case {column} {cases} end)"


def _status_accepted(new: str) -> str:
    """True when the status `new` may replace the stored one: given, and not a step back (unknown names never
    are)."""
    return f"({new} is not null and not coalesce({_stage(new)} < {_stage('status')}, 0))"


def _quality_changed(quality: str, limit: str) -> str:
    """A quality or limit change: a known value replaced by a different one."""
    return (
        f"((quality_rating is not null and {quality} is not null and quality_rating != {quality})"
        f" or (messaging_limit is not null and {limit} is not null and messaging_limit != {limit}))"
    )


@dataclass(frozen=True)
class MergeRules:
    """What differs in how a source's facts merge into a channel row; every other rule holds for every source:
    a fact not given (None) leaves its column as it is, a status's time moves only when the status does, a
    quality or limit change keeps the values before it, permission and revoked start unknown and 0."""

    # The Partner API is the authority on a channel's status: its status replaces the stored one whatever the
    # lifecycle order, and a move out of running is remembered (when, and to what) until the channel is running
    # again. Other sources never move a status back to an earlier stage (an old event arriving late).
    status_may_step_back: bool = False
    # A channel's first termination time stays; a later source repeating the termination does not move it.
    keeps_first_termination: bool = False
    # Many events write the number as bare digits: the same number keeps the spelling people know it by.
    keeps_number_spelling: bool = False
    # The facts carry `cancellation_event`, a cancellation event's type (contract section 7), which moves the
    # channel's cancellation: a request, then processed (final), or a revoke that withdraws a pending request.
    cancellation_from_events: bool = False


WEBHOOK_RULES = MergeRules(keeps_first_termination=True, keeps_number_spelling=True, cancellation_from_events=True)
PARTNER_API_RULES = MergeRules(status_may_step_back=True)
# What upsert_channel writes: a redirect's confirmed channel, a permission check, an operator's action.
DIRECT_RULES = MergeRules()

# Facts the rules read (every other fact given is a column written as it is). `status_since` is when the source
# says the status changed at the latest; `status_changed_at` and the quality history may also be written as
# they are, unless the status or the quality changes.
_RULED_FACTS = frozenset(
    {
        "status",
        "status_since",
        "status_changed_at",
        "quality_rating",
        "messaging_limit",
        "previous_quality_rating",
        "previous_messaging_limit",
        "quality_changed_at",
        "permission",
        "revoked",
        "cancellation_event",
    }
)
# Bound on every row whatever the facts: the row's id, the time of the write and where it came from.
_ALWAYS_BOUND = frozenset({"id", "now", "source"})
# Columns every write sets itself: a value given for one of them is left out.
_SET_BY_THE_WRITE = frozenset({"id", "updated_at", "last_source"})
# A client seen by any source: first seen once, its name and partner payload kept when a source has none.
_CLIENT_SQL = """
    insert into clients (id, name, partner_payload, first_seen_at, updated_at)
    values (:id, :name, :partner_payload, :first_seen_at, :updated_at)
    on conflict (id) do update set
        name = coalesce(excluded.name, name),
        partner_payload = coalesce(excluded.partner_payload, partner_payload),
        updated_at = excluded.updated_at
"""


def _cancellation_from(event: str) -> str:
    """What a cancellation event makes of the channel's cancellation (contract section 7; shapes unconfirmed)."""
    return (
        f"(case {event} when 'cancellation_request' then 'requested'"
        " when 'cancellation_processed' then 'cancelled' end)"
    )


def _status_columns(rules: MergeRules, given: Callable[[str], str]) -> tuple[dict[str, str], dict[str, str]]:
    """The status and its time: (value on a new row, value on an existing one) per column."""
    status = given("status")
    # The latest the status can have changed: the source's time when it is in the past, else now.
    since = f"min(coalesce({given('status_since')}, :now), :now)"
    taken = f"{status} is not null" if rules.status_may_step_back else _status_accepted(status)
    new = {
        "status": status,
        "status_changed_at": f"case when {status} is not null then {since} else {given('status_changed_at')} end",
    }
    # A status change never dates from before the status it replaces (the data would contradict itself).
    existing = {
        "status": f"case when {taken} then {status} else status end",
        "status_changed_at": f"""case when {taken} and status is not {status}
            then (case when {since} > coalesce(status_changed_at, '') then {since} else :now end)
            else coalesce({given("status_changed_at")}, status_changed_at) end""",
    }
    if rules.status_may_step_back:
        left = f"status = 'running' and coalesce({status}, 'running') != 'running'"
        existing |= {
            "left_running_at": f"case when {left} then :now when {status} = 'running' then null"
            " else left_running_at end",
            "left_running_to": f"case when {left} then {status} when {status} = 'running' then null"
            " else left_running_to end",
        }
    return new, existing


def _quality_columns(given: Callable[[str], str]) -> tuple[dict[str, str], dict[str, str]]:
    """Quality, limit and their history: (value on a new row, value on an existing one) per column."""
    changed = _quality_changed(given("quality_rating"), given("messaging_limit"))
    history = ("previous_quality_rating", "previous_messaging_limit", "quality_changed_at")
    new = {name: given(name) for name in ("quality_rating", "messaging_limit", *history)}
    existing = {
        "previous_quality_rating": f"case when {changed} then quality_rating "
        f"else coalesce({given('previous_quality_rating')}, previous_quality_rating) end",
        "previous_messaging_limit": f"case when {changed} then messaging_limit "
        f"else coalesce({given('previous_messaging_limit')}, previous_messaging_limit) end",
        "quality_changed_at": f"case when {changed} then :now "
        f"else coalesce({given('quality_changed_at')}, quality_changed_at) end",
        "quality_rating": f"coalesce({given('quality_rating')}, quality_rating)",
        "messaging_limit": f"coalesce({given('messaging_limit')}, messaging_limit)",
    }
    return new, existing


def _event_columns(rules: MergeRules, given: Callable[[str], str]) -> tuple[dict[str, str], dict[str, str]]:
    """What the webhook rules decide (termination, the number's spelling, cancellation); nothing for others."""
    new: dict[str, str] = {}
    existing: dict[str, str] = {}
    if rules.keeps_first_termination:
        existing["terminated_at"] = f"coalesce(terminated_at, {given('terminated_at')})"
    if rules.keeps_number_spelling:
        number = given("phone_number")
        existing["phone_number"] = (
            f"case when {number} is null or {number} = phone_digits then phone_number else {number} end"
        )
    if rules.cancellation_from_events:
        event = given("cancellation_event")
        cancellation = _cancellation_from(event)
        new |= {"cancellation": cancellation, "cancellation_at": f"case when {cancellation} is not null then :now end"}
        # A processed cancellation is final; a revoke withdraws a pending request.
        existing |= {
            "cancellation": f"""case when cancellation = 'cancelled' then cancellation
                                     when {event} = 'cancellation_revoke' then null
                                     else coalesce({cancellation}, cancellation) end""",
            "cancellation_at": f"""case when cancellation = 'cancelled' then cancellation_at
                                        when {event} is not null then :now else cancellation_at end""",
        }
    return new, existing


def _merge_columns(rules: MergeRules, facts: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Per column, its value on a new row and on an existing one, given `facts` (the names bound besides id, now
    and source) and merged by `rules`."""
    for name in facts:
        if not name.isidentifier():
            raise ValueError(f"not a column name: {name!r}")

    def given(name: str) -> str:
        return f":{name}" if name in facts else "null"

    plain = [name for name in facts if name not in _RULED_FACTS]
    status_new, status_existing = _status_columns(rules, given)
    quality_new, quality_existing = _quality_columns(given)
    event_new, event_existing = _event_columns(rules, given)
    new = {
        "id": ":id",
        **{name: f":{name}" for name in plain},
        **status_new,
        **quality_new,
        **event_new,
        "permission": f"coalesce({given('permission')}, 'unknown')",
        "revoked": f"coalesce({given('revoked')}, 0)",
        "updated_at": ":now",
        "last_source": ":source",
    }
    existing = {
        **{name: f"coalesce(:{name}, {name})" for name in plain},
        **status_existing,
        **quality_existing,
        **event_existing,
        "permission": f"coalesce({given('permission')}, permission)",
        "revoked": f"coalesce({given('revoked')}, revoked)",
        "updated_at": ":now",
        "last_source": ":source",
    }
    return new, existing


@functools.cache
def _channel_upsert_sql(rules: MergeRules, facts: tuple[str, ...], *, returning: bool = False) -> str:
    """The one statement that writes a channel row: inserted with `facts` (the names the rows carry, besides
    id, now and source) when new, else merged by `rules`. On an existing row every SET expression reads the
    row as it was before this statement (SQLite evaluates them all against the old values)."""
    new, existing = _merge_columns(rules, facts)
    columns = ", ".join(f'"{name}"' for name in new)
    values = ", ".join(new.values())
    sets = ",\n    ".join(f'"{name}" = {value}' for name, value in existing.items())
    return (
        f"insert into channels ({columns}) values ({values})\non conflict (id) do update set\n    {sets}"  # noqa: S608 - checked identifiers of our own; every value is bound
        + ("\nreturning *" if returning else "")
    )


@functools.cache
def _channel_update_sql(rules: MergeRules, facts: tuple[str, ...]) -> str:
    """The upsert's merge as a plain UPDATE of an existing row, setting only the columns `facts` can change.

    An upsert first builds the row it would insert, computing the generated phone columns, and its SET names
    every column, so SQLite rewrites all of the table's indexes: about three times the work of this statement
    for a webhook that changes a status. A column is left out when its value is the one it has with no facts given,
    which leaves the column as it is (tests/channels/test_projection_writes.py checks both)."""
    _, existing = _merge_columns(rules, facts)
    _, unchanged = _merge_columns(rules, ())
    sets = ",\n    ".join(
        f'"{name}" = {value}'
        for name, value in existing.items()
        if name in _SET_BY_THE_WRITE or value != unchanged.get(name)
    )
    return f"update channels set\n    {sets}\nwhere id = :id"


def _write_channels(db: Database, rules: MergeRules, rows: Sequence[dict[str, Any]]) -> None:
    """Write channel rows that all carry the same facts, the statement prepared once for all of them, in order:
    each row sees the channel as the previous one left it."""
    if rows:
        facts = tuple(name for name in rows[0] if name not in _ALWAYS_BOUND)
        db.conn.executemany(_channel_upsert_sql(rules, facts), rows)


def _write_given_facts(db: Database, rules: MergeRules, rows: Sequence[dict[str, Any]]) -> None:
    """Write channel rows in order, as _write_channels does, each with only the facts it gives (None is not
    given): an existing channel is updated with only the columns those facts can change, a new one inserted.
    Rows that give different facts take different statements, each prepared once per connection: a webhook
    kind gives few shapes, where a sync's many optional fields would give more than SQLite keeps prepared."""
    execute = db.conn.execute
    for row in rows:
        bound = {name: value for name, value in row.items() if value is not None or name in _ALWAYS_BOUND}
        facts = tuple(name for name in bound if name not in _ALWAYS_BOUND)
        if not execute(_channel_update_sql(rules, facts), bound).rowcount:
            execute(_channel_upsert_sql(rules, facts), bound)


@contextlib.contextmanager
def _in_transaction(db: Database) -> Iterator[None]:
    """Join the caller's transaction, or commit on our own when called outside one."""
    if db.conn.in_transaction:
        yield
    else:
        with db.atomic():
            yield


def get_channel(db: Database, channel_id: str) -> dict[str, Any] | None:
    cursor = db.execute("select * from channels where id = ?", [channel_id])
    row = cursor.fetchone()
    return dict(zip([column[0] for column in cursor.description], row, strict=True)) if row else None


def upsert_channel(
    db: Database, channel_id: str, changes: dict[str, Any], *, source: str, status_since: str | None = None
) -> dict[str, Any]:
    """Merge known fields into a channel row, creating it when new; None values leave a field as it is (the
    direct rules, DIRECT_RULES: a redirect's confirmed channel, a permission check, an operator's action).

    A status that would step back in the lifecycle is ignored; status_changed_at moves only on a real
    change of status, to `status_since` when that is in the past and after the status it replaces (the
    latest the source says the change can have happened), else to now; on a quality or limit change, both
    values as they were just before it are kept in previous_quality_rating and previous_messaging_limit, with
    quality_changed_at."""
    facts = {name: value for name, value in changes.items() if value is not None and name not in _SET_BY_THE_WRITE}
    if status_since is not None:
        facts["status_since"] = status_since
    sql = _channel_upsert_sql(DIRECT_RULES, tuple(sorted(facts)), returning=True)
    with _in_transaction(db):
        cursor = db.execute(sql, {**facts, "id": channel_id, "now": utc_now(), "source": source})
        row = cursor.fetchone()
        cursor.fetchall()
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


def ensure_client(db: Database, client_id: str, *, name: str | None = None, partner_payload: str | None = None) -> None:
    now = utc_now()
    with _in_transaction(db):
        db.execute(
            _CLIENT_SQL,
            {
                "id": client_id,
                "name": name,
                "partner_payload": partner_payload,
                "first_seen_at": now,
                "updated_at": now,
            },
        )


def _webhook_channel_changes(event: ChannelFacts) -> dict[str, Any] | None:
    """What a webhook says about its channel, or None when it concerns no channel."""
    if event.kind == "client_created" or not event.channel_id:
        return None
    status = event.status
    if event.kind == "channel_created":
        status = status or "pending"
    return {
        "client_id": event.client_id,
        "status": status,
        "quality_rating": event.quality_rating,
        "messaging_limit": event.messaging_limit,
        "phone_number": event.phone_number,
        "phone_name": event.phone_name,
        "waba_id": event.waba_id,
        "waba_external_id": event.waba_external_id,
        "portfolio_id": event.portfolio_id,
        "terminated_at": _utc_time(event.terminated_at) or event.terminated_at,
        "cancellation_event": event.event_type if event.kind == "cancellation" else None,
    }


def apply_webhook_event(db: Database, event: WebhookEvent) -> None:
    """Project one stored webhook onto the channel and client it concerns."""
    with _in_transaction(db):
        apply_webhook_events(db, [event])


def apply_webhook_events(db: Database, events: Sequence[ChannelFacts], *, at: Sequence[str] | None = None) -> None:
    """Project stored webhooks in order, with the same rules as apply_webhook_event, each statement prepared
    once for the whole batch; `at` is when each was received (default: now). Call inside a transaction."""
    times = at if at is not None else [utc_now()] * len(events)
    # One upsert per client: its first and its last event's time, and the last name an event gave it.
    clients: dict[str, dict[str, str | None]] = {}
    for event, now in zip(events, times, strict=True):
        if event.client_id:
            client = clients.setdefault(
                event.client_id,
                {"id": event.client_id, "name": None, "partner_payload": None, "first_seen_at": now},
            )
            client["updated_at"] = now
            client["name"] = event.client_name or client["name"]
    if clients:
        db.conn.executemany(_CLIENT_SQL, list(clients.values()))
    rows = []
    for event, now in zip(events, times, strict=True):
        changes = _webhook_channel_changes(event)
        if changes is not None:
            rows.append({"id": event.channel_id, **changes, "now": now, "source": f"webhook:{event.event_type}"})
    _write_given_facts(db, WEBHOOK_RULES, rows)


# The columns a Partner API channel object sets (contract section 4), in the order the sync compares them.
API_CHANNEL_FIELDS = (
    "status",
    "client_id",
    "account_mode",
    "phone_number",
    "phone_name",
    "quality_rating",
    "messaging_limit",
    "waba_id",
    "waba_external_id",
    "portfolio_id",
    "terminated_at",
)


def _text(value: Any) -> str | None:
    """A field as text: strings as they are, numbers written out, anything else (a nested object) unknown."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _utc_time(value: Any) -> str | None:
    """An ISO-8601 time with its zone ("2025-11-03T09:40:02Z") as the console writes times; None otherwise."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def api_channel_facts(channel: Any) -> dict[str, str | None] | None:
    """What a Partner API channel object says about its row (API_CHANNEL_FIELDS and `id`), or None when it
    names no channel. Phone fields may be nested in setup_info or flat, as in webhooks. `status_since` is its
    modified_at, optional: the latest its status can have changed."""
    if not isinstance(channel, dict) or not isinstance(channel.get("id"), str) or not channel["id"]:
        return None
    setup = channel.get("setup_info") if isinstance(channel.get("setup_info"), dict) else {}
    client = channel.get("client") if isinstance(channel.get("client"), dict) else {}
    waba_id, waba_external_id, portfolio_id = waba_facts(channel)
    return {
        "id": channel["id"],
        "waba_id": waba_id,
        "waba_external_id": waba_external_id,
        "portfolio_id": portfolio_id,
        "terminated_at": _utc_time(channel.get("terminated_at")) or _text(channel.get("terminated_at")),
        "status": _text(channel.get("status")),
        "client_id": _text(channel.get("client_id")) or _text(client.get("id")),
        "account_mode": _text(channel.get("account_mode")),
        "phone_number": _text(setup.get("phone_number")) or _text(channel.get("phone_number")),
        "phone_name": _text(setup.get("phone_name")) or _text(channel.get("phone_name")),
        "quality_rating": _text(channel.get("current_quality_rating")),
        "messaging_limit": _text(channel.get("current_limit")),
        "status_since": _utc_time(channel.get("modified_at")),
    }


def api_client_facts(channel: dict[str, Any], client_id: str) -> dict[str, str | None]:
    """The client a Partner API channel object embeds: its name and partner payload (kept as JSON text)."""
    client = channel.get("client") if isinstance(channel.get("client"), dict) else {}
    payload = client.get("partner_payload")
    return {
        "id": client_id,
        "name": _text(client.get("name")),
        "partner_payload": json.dumps(payload) if isinstance(payload, (dict, list)) else _text(payload),
    }


def write_api_channels(
    db: Database,
    channels: Sequence[dict[str, Any]],
    clients: Sequence[dict[str, Any]],
    *,
    now: str,
    new: Sequence[dict[str, Any]] = (),
) -> None:
    """Write Partner API facts (api_channel_facts, api_client_facts) for a page by the Partner API's rules
    (PARTNER_API_RULES), each statement prepared once: `channels` onto their rows, and `new`, channels known to
    be missing (read in the same transaction), as new rows. Call inside a transaction."""
    if clients:
        db.conn.executemany(_CLIENT_SQL, [{**client, "first_seen_at": now, "updated_at": now} for client in clients])
    for facts in (new, channels):
        rows = [{"status_since": None, **fact, "now": now, "source": "partner_api"} for fact in facts]
        _write_channels(db, PARTNER_API_RULES, rows)


def apply_api_channel(db: Database, channel: dict[str, Any]) -> dict[str, Any]:
    """Project a channel object from the Partner API (contract section 4)."""
    setup = channel.get("setup_info") or {}
    client = channel.get("client") or {}
    client_id = channel.get("client_id") or client.get("id")
    if client_id:
        payload = client.get("partner_payload")
        ensure_client(
            db,
            client_id,
            name=client.get("name"),
            partner_payload=json.dumps(payload) if isinstance(payload, (dict, list)) else payload,
        )
    waba_id, waba_external_id, portfolio_id = waba_facts(channel)
    return upsert_channel(
        db,
        channel["id"],
        {
            "waba_id": waba_id,
            "waba_external_id": waba_external_id,
            "portfolio_id": portfolio_id,
            "terminated_at": _utc_time(channel.get("terminated_at")) or _text(channel.get("terminated_at")),
            "client_id": client_id,
            "status": channel.get("status"),
            "account_mode": channel.get("account_mode"),
            "phone_number": setup.get("phone_number"),
            "phone_name": setup.get("phone_name"),
            "quality_rating": channel.get("current_quality_rating"),
            "messaging_limit": channel.get("current_limit"),
        },
        source="partner_api",
        status_since=_utc_time(channel.get("modified_at")),
    )


# A redirect's grant or revocation on one channel. The WHERE clause is the rule: only a channel known here under
# the redirect's client, or under none yet, changes; a redirect never creates a channel row nor moves one to
# another client. The check sits in the statement, so it holds without reading the row first, and holds
# against whatever was written since the redirect was decided.
_REDIRECT_PERMISSION_SQL = """
    update channels set client_id = :client_id, permission = :permission, revoked = :revoked,
                        updated_at = :now, last_source = 'redirect'
    where id = :id and (client_id is null or client_id = :client_id)
"""


def record_granted(db: Database, client_id: str, granted: tuple[str, ...], revoked: tuple[str, ...]) -> dict[str, int]:
    """A trusted redirect grants key permission for some channels and may withdraw it for others.

    Only channels known here under this client, or under none yet, change: a redirect never creates a
    channel row nor moves one to another client. Reads no channel. Returns, per revoked channel, how many
    stored keys the revocation made unusable."""
    ensure_client(db, client_id)
    for channel_id in granted:
        _set_permission(db, channel_id, client_id, permission="granted", revoked=0)
    unusable = {}
    for channel_id in revoked:
        if not _set_permission(db, channel_id, client_id, permission="revoked", revoked=1):
            continue
        # The client withdrew permission: 360dialog stops honouring the channel's key.
        unusable[channel_id] = db.execute(
            "update api_keys set status = 'unusable' where channel_id = ? and status = 'active'", [channel_id]
        ).rowcount
    return unusable


def _set_permission(db: Database, channel_id: str, client_id: str, *, permission: str, revoked: int) -> bool:
    """Whether the channel took the redirect's permission (see _REDIRECT_PERMISSION_SQL)."""
    params = {"id": channel_id, "client_id": client_id, "permission": permission, "revoked": revoked, "now": utc_now()}
    with _in_transaction(db):
        return bool(db.execute(_REDIRECT_PERMISSION_SQL, params).rowcount)
