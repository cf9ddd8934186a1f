"""Current state of clients and channels, projected from webhooks, redirects and Partner API syncs.

Every webhook that names a channel passes through here, so the writes are plain SQL upserts that SQLite
prepares once per connection: the rules below (no step back in the lifecycle, quality history) are decided
inside the statement, from the row as it is, without reading it first."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from services.events.webhook import ChannelFacts, WebhookEvent, waba_facts
from services.store import utc_now

# A lifecycle status never moves back to an earlier stage because an old event arrived late.
STAGE_ORDER = {"created": 0, "pending": 0, "submitted": 1, "ready": 2, "running": 3}
# Columns the upsert decides itself; any other column given is simply written.
_RULED_COLUMNS = frozenset(
    {
        "id",
        "status",
        "status_changed_at",
        "quality_rating",
        "messaging_limit",
        "previous_quality_rating",
        "previous_messaging_limit",
        "quality_changed_at",
        "permission",
        "revoked",
        "updated_at",
        "last_source",
    }
)


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


_STATUS_ACCEPTED = _status_accepted(":status")
_QUALITY_CHANGED = _quality_changed(":quality_rating", ":messaging_limit")
_BATCH_STATUS_ACCEPTED = _status_accepted("excluded.status")
_BATCH_QUALITY_CHANGED = _quality_changed("excluded.quality_rating", "excluded.messaging_limit")
# What a cancellation event makes of the channel's cancellation (contract section 7; the shapes are unconfirmed).
_NEW_CANCELLATION = (
    "(case :cancellation when 'cancellation_request' then 'requested'"
    " when 'cancellation_processed' then 'cancelled' end)"
)
# One webhook's effect on its channel, run by executemany for a whole batch in arrival order: each row sees
# the channel as the previous one left it.
_PROJECT_CHANNEL_SQL = f"""
    insert into channels (id, client_id, status, quality_rating, messaging_limit, phone_number, phone_name,
                          status_changed_at, permission, revoked, updated_at, last_source, waba_id, waba_external_id,
                          portfolio_id, terminated_at, cancellation, cancellation_at)
    values (:id, :client_id, :status, :quality_rating, :messaging_limit, :phone_number, :phone_name,
            case when :status is not null then :now end, 'unknown', 0, :now, :source, :waba_id, :waba_external_id,
            :portfolio_id, :terminated_at, {_NEW_CANCELLATION}, case when {_NEW_CANCELLATION} is not null then :now end)
    on conflict (id) do update set
        client_id = coalesce(excluded.client_id, client_id),
        waba_id = coalesce(excluded.waba_id, waba_id),
        waba_external_id = coalesce(excluded.waba_external_id, waba_external_id),
        portfolio_id = coalesce(excluded.portfolio_id, portfolio_id),
        terminated_at = coalesce(terminated_at, excluded.terminated_at),
        -- A processed cancellation is final; a revoke withdraws a pending request.
        cancellation = case when cancellation = 'cancelled' then cancellation
                            when :cancellation = 'cancellation_revoke' then null
                            else coalesce({_NEW_CANCELLATION}, cancellation) end,
        cancellation_at = case when cancellation = 'cancelled' then cancellation_at
                               when :cancellation is not null then :now else cancellation_at end,
        -- Many events write the number as bare digits: the same number keeps the spelling people know it by.
        phone_number = case when excluded.phone_number is null or excluded.phone_number = phone_digits
                            then phone_number else excluded.phone_number end,
        phone_name = coalesce(excluded.phone_name, phone_name),
        status = case when {_BATCH_STATUS_ACCEPTED} then excluded.status else status end,
        status_changed_at = case when {_BATCH_STATUS_ACCEPTED} and status is not excluded.status
                                 then :now else status_changed_at end,
        previous_quality_rating = case when {_BATCH_QUALITY_CHANGED}
                                       then quality_rating else previous_quality_rating end,
        previous_messaging_limit = case when {_BATCH_QUALITY_CHANGED}
                                        then messaging_limit else previous_messaging_limit end,
        quality_changed_at = case when {_BATCH_QUALITY_CHANGED}
                                  then :now else quality_changed_at end,
        quality_rating = coalesce(excluded.quality_rating, quality_rating),
        messaging_limit = coalesce(excluded.messaging_limit, messaging_limit),
        updated_at = :now,
        last_source = excluded.last_source
"""  # noqa: S608 - fixed fragments of our own; every value is bound
_PROJECT_CLIENT_SQL = """
    insert into clients (id, name, first_seen_at, updated_at) values (:id, :name, :first, :last)
    on conflict (id) do update set updated_at = excluded.updated_at, name = coalesce(excluded.name, name)
"""


@functools.cache
def _upsert_channel_sql(plain: tuple[str, ...]) -> str:
    for name in plain:
        if not name.isidentifier():
            raise ValueError(f"not a column name: {name!r}")
    columns = ", ".join(f'"{name}"' for name in plain)
    values = ", ".join(f":{name}" for name in plain)
    sets = "".join(f'"{name}" = excluded."{name}", ' for name in plain)
    extra_columns, extra_values = (f", {columns}", f", {values}") if plain else ("", "")
    # On a new row every given value is written as it is; on an existing one, the SET expressions read the
    # row as it was before this statement (SQLite evaluates them all against the old values).
    return f"""
        insert into channels (id, status, status_changed_at, quality_rating, messaging_limit,
                              previous_quality_rating, previous_messaging_limit, quality_changed_at,
                              permission, revoked, updated_at, last_source{extra_columns})
        values (:id, :status, coalesce(:new_status_changed_at, :status_changed_at), :quality_rating,
                :messaging_limit, :previous_quality_rating, :previous_messaging_limit, :quality_changed_at,
                coalesce(:permission, 'unknown'), coalesce(:revoked, 0), :now, :source{extra_values})
        on conflict (id) do update set {sets}
            status = case when {_STATUS_ACCEPTED} then :status else status end,
            status_changed_at = case when {_STATUS_ACCEPTED} and status is not :status
                                     then (case when :new_status_changed_at > coalesce(status_changed_at, '')
                                                then :new_status_changed_at else :now end)
                                     else coalesce(:status_changed_at, status_changed_at) end,
            previous_quality_rating = case when {_QUALITY_CHANGED} then quality_rating
                                           else coalesce(:previous_quality_rating, previous_quality_rating) end,
            previous_messaging_limit = case when {_QUALITY_CHANGED} then messaging_limit
                                            else coalesce(:previous_messaging_limit, previous_messaging_limit) end,
            quality_changed_at = case when {_QUALITY_CHANGED} then :now
                                      else coalesce(:quality_changed_at, quality_changed_at) end,
            quality_rating = coalesce(:quality_rating, quality_rating),
            messaging_limit = coalesce(:messaging_limit, messaging_limit),
            permission = coalesce(:permission, permission),
            revoked = coalesce(:revoked, revoked),
            updated_at = :now,
            last_source = :source
        returning *
    """  # noqa: S608 - column names are checked identifiers from our own code; every value is bound


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
    """Merge known fields into a channel row, creating it when new; None values leave a field as it is.

    A status that would step back in the lifecycle is ignored; status_changed_at moves only on a real
    change of status, to `status_since` when that is in the past and after the status it replaces (the
    latest the source says the change can have happened), else to now; on a quality or limit change, both
    values as they were just before it are kept in previous_quality_rating and previous_messaging_limit, with
    quality_changed_at."""
    given = {key: value for key, value in changes.items() if value is not None}
    plain = tuple(sorted(key for key in given if key not in _RULED_COLUMNS))
    params = {name: given.get(name) for name in _RULED_COLUMNS - {"id", "updated_at", "last_source"}}
    now = utc_now()
    params.update(
        {name: given[name] for name in plain},
        id=channel_id,
        now=now,
        source=source,
        new_status_changed_at=(min(status_since or now, now) if "status" in given else None),
    )
    with _in_transaction(db):
        cursor = db.execute(_upsert_channel_sql(plain), params)
        row = cursor.fetchone()
        cursor.fetchall()
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


def ensure_client(db: Database, client_id: str, *, name: str | None = None, partner_payload: str | None = None) -> None:
    now = utc_now()
    with _in_transaction(db):
        db.execute(
            """
            insert into clients (id, name, partner_payload, first_seen_at, updated_at) values (?, ?, ?, ?, ?)
            on conflict (id) do update set
                name = coalesce(excluded.name, name),
                partner_payload = coalesce(excluded.partner_payload, partner_payload),
                updated_at = excluded.updated_at
            """,
            [client_id, name, partner_payload, now, now],
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
        "cancellation": event.event_type if event.kind == "cancellation" else None,
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
            client = clients.setdefault(event.client_id, {"id": event.client_id, "first": now, "name": None})
            client["last"] = now
            client["name"] = event.client_name or client["name"]
    if clients:
        db.conn.executemany(_PROJECT_CLIENT_SQL, list(clients.values()))
    rows = []
    for event, now in zip(events, times, strict=True):
        changes = _webhook_channel_changes(event)
        if changes is not None:
            rows.append({"id": event.channel_id, **changes, "now": now, "source": f"webhook:{event.event_type}"})
    if rows:
        db.conn.executemany(_PROJECT_CHANNEL_SQL, rows)


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
# One Partner API channel onto its row, run by executemany for a page. The Partner API is the authority on a
# channel's status: its status replaces the stored one whatever the lifecycle order (webhooks keep the "no step
# back" rule). A move out of running is remembered (when, and to what) until the channel is running again.
# A new status dates from the channel's modified_at when the API gives one in the past: the change happened
# then at the latest, so a channel already stuck when first read shows as stuck at once. It never dates from
# before the status the console held (the data would contradict itself); then, and without one, it is now.
_API_CHANNEL_SQL = f"""
    insert into channels (id, client_id, status, account_mode, phone_number, phone_name, quality_rating,
                          messaging_limit, status_changed_at, permission, revoked, updated_at, last_source,
                          waba_id, waba_external_id, portfolio_id, terminated_at)
    values (:id, :client_id, :status, :account_mode, :phone_number, :phone_name, :quality_rating,
            :messaging_limit, case when :status is not null then min(coalesce(:status_since, :now), :now) end,
            'unknown', 0, :now, 'partner_api', :waba_id, :waba_external_id, :portfolio_id, :terminated_at)
    on conflict (id) do update set
        client_id = coalesce(excluded.client_id, client_id),
        waba_id = coalesce(excluded.waba_id, waba_id),
        waba_external_id = coalesce(excluded.waba_external_id, waba_external_id),
        portfolio_id = coalesce(excluded.portfolio_id, portfolio_id),
        terminated_at = coalesce(excluded.terminated_at, terminated_at),
        account_mode = coalesce(excluded.account_mode, account_mode),
        phone_number = coalesce(excluded.phone_number, phone_number),
        phone_name = coalesce(excluded.phone_name, phone_name),
        status = coalesce(excluded.status, status),
        status_changed_at = case when excluded.status is not null and status is not excluded.status
                                 then (case when excluded.status_changed_at > coalesce(status_changed_at, '')
                                            then excluded.status_changed_at else :now end)
                                 else status_changed_at end,
        left_running_at = case when status = 'running' and coalesce(excluded.status, 'running') != 'running'
                               then :now when excluded.status = 'running' then null else left_running_at end,
        left_running_to = case when status = 'running' and coalesce(excluded.status, 'running') != 'running'
                               then excluded.status when excluded.status = 'running' then null
                               else left_running_to end,
        previous_quality_rating = case when {_BATCH_QUALITY_CHANGED}
                                       then quality_rating else previous_quality_rating end,
        previous_messaging_limit = case when {_BATCH_QUALITY_CHANGED}
                                        then messaging_limit else previous_messaging_limit end,
        quality_changed_at = case when {_BATCH_QUALITY_CHANGED}
                                  then :now else quality_changed_at end,
        quality_rating = coalesce(excluded.quality_rating, quality_rating),
        messaging_limit = coalesce(excluded.messaging_limit, messaging_limit),
        updated_at = :now,
        last_source = 'partner_api'
"""  # noqa: S608 - fixed fragments of our own; every value is bound
_API_CLIENT_SQL = """
    insert into clients (id, name, partner_payload, first_seen_at, updated_at)
    values (:id, :name, :partner_payload, :now, :now)
    on conflict (id) do update set
        name = coalesce(excluded.name, name),
        partner_payload = coalesce(excluded.partner_payload, partner_payload),
        updated_at = excluded.updated_at
"""


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


# A channel the page's transaction has just found missing: a plain insert, its values bound by position (a first
# sync writes every channel this way, so this is the statement that costs most).
# parameters: the id, the fields in order, the time, then the status's time (see _API_CHANNEL_SQL)
_NOW = f"?{len(API_CHANNEL_FIELDS) + 2}"
_SINCE = f"?{len(API_CHANNEL_FIELDS) + 3}"
_API_NEW_CHANNEL_SQL = f"""
    insert into channels (id, {", ".join(API_CHANNEL_FIELDS)}, status_changed_at, permission, revoked, updated_at,
                          last_source)
    values (?1, {", ".join(f"?{index + 2}" for index in range(len(API_CHANNEL_FIELDS)))},
            case when ?{API_CHANNEL_FIELDS.index("status") + 2} is not null then min(coalesce({_SINCE}, {_NOW}), {_NOW})
            end, 'unknown', 0, {_NOW}, 'partner_api')
"""  # noqa: S608 - our own column names; every value is bound


def write_api_channels(
    db: Database,
    channels: Sequence[dict[str, Any]],
    clients: Sequence[dict[str, Any]],
    *,
    now: str,
    new: Sequence[dict[str, Any]] = (),
) -> None:
    """Write Partner API facts (api_channel_facts, api_client_facts) for a page, each statement prepared once:
    `channels` onto their rows, and `new`, channels known to be missing (read in the same transaction), as new
    rows. Call inside a transaction."""
    if clients:
        db.conn.executemany(_API_CLIENT_SQL, [{**client, "now": now} for client in clients])
    if new:
        db.conn.executemany(
            _API_NEW_CHANNEL_SQL,
            [(fact["id"], *(fact[name] for name in API_CHANNEL_FIELDS), now, fact.get("status_since")) for fact in new],
        )
    if channels:
        db.conn.executemany(_API_CHANNEL_SQL, [{"status_since": None, **channel, "now": now} for channel in channels])


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


def record_granted(db: Database, client_id: str, granted: tuple[str, ...], revoked: tuple[str, ...]) -> dict[str, int]:
    """A trusted redirect grants key permission for some channels and may withdraw it for others.

    Only channels known here under this client, or under none yet, change: a redirect never creates a
    channel row nor moves one to another client. Returns, per revoked channel, how many stored keys the
    revocation made unusable."""
    ensure_client(db, client_id)
    for channel_id in granted:
        if _may_change_for(db, channel_id, client_id):
            upsert_channel(
                db, channel_id, {"client_id": client_id, "permission": "granted", "revoked": 0}, source="redirect"
            )
    unusable = {}
    for channel_id in revoked:
        if not _may_change_for(db, channel_id, client_id):
            continue
        upsert_channel(
            db, channel_id, {"client_id": client_id, "permission": "revoked", "revoked": 1}, source="redirect"
        )
        # The client withdrew permission: 360dialog stops honouring the channel's key.
        unusable[channel_id] = db.execute(
            "update api_keys set status = 'unusable' where channel_id = ? and status = 'active'", [channel_id]
        ).rowcount
    return unusable


def _may_change_for(db: Database, channel_id: str, client_id: str) -> bool:
    channel = get_channel(db, channel_id)
    return channel is not None and channel.get("client_id") in (None, client_id)


def list_channels(db: Database) -> list[dict[str, Any]]:
    return list(
        db.query(
            """
            select channels.*, clients.name as client_name
            from channels left join clients on clients.id = channels.client_id
            order by channels.updated_at desc
            """
        )
    )
