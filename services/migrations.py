"""Schema of the console database, one idea per table. Add a new function; never edit an applied one."""

from __future__ import annotations

import hashlib
import json

from sqlite_utils import Database, Migrations

from services.phone_numbers import country_code_lengths
from services.whatsapp import PHONE_SEPARATORS, phone_digits, written_numbers

console_migrations = Migrations("console")
# Names these migrations were recorded under before they were named for what they do; a database that
# recorded an old name has that migration applied (store.apply_migrations renames the record first).
CONSOLE_FORMER_NAMES = {
    "m005_link_redirect_details_issue5": "m002_link_redirect_details",
    "m020_views_and_keys_issue6": "m003_quality_history_and_stage_counters",
    "m010_receiver_stats_issue4": "m004_receiver_stats",
    "m030_drop_redundant_channel_status_index": "m005_drop_redundant_channel_status_index",
    "m040_incoming_events_issue4": "m006_incoming_events",
}


@console_migrations()
def m001_initial(db: Database) -> None:
    db["events"].create(
        {
            "id": int,
            "dedupe_key": str,
            "event_type": str,
            "kind": str,
            "channel_id": str,
            "client_id": str,
            "status": str,
            "raw_body": str,
            "headers": str,
            "signature_verdict": str,
            "received_at": str,
            "duplicate_count": int,
            "last_duplicate_at": str,
        },
        pk="id",
        not_null={"dedupe_key", "event_type", "kind", "raw_body", "received_at"},
        defaults={"duplicate_count": 0},
    )
    db["events"].create_index(["dedupe_key"], unique=True)
    db["events"].create_index(["received_at"])
    db["events"].create_index(["event_type", "received_at"])
    db["events"].create_index(["channel_id", "received_at"])
    db["events"].create_index(["client_id", "received_at"])

    db["clients"].create(
        {"id": str, "name": str, "partner_payload": str, "first_seen_at": str, "updated_at": str},
        pk="id",
    )
    db["channels"].create(
        {
            "id": str,
            "client_id": str,
            "status": str,
            "account_mode": str,
            "phone_number": str,
            "phone_name": str,
            "quality_rating": str,
            "messaging_limit": str,
            "permission": str,
            "revoked": int,
            "status_changed_at": str,
            "updated_at": str,
            "last_source": str,
        },
        pk="id",
        defaults={"revoked": 0, "permission": "unknown"},
    )
    db["channels"].create_index(["client_id"])
    db["channels"].create_index(["status"])

    db["io_links"].create(
        {
            "state": str,
            "operator": str,
            "created_at": str,
            "url": str,
            "params": str,
            "io_timestamp": int,
            "used_at": str,
        },
        pk="state",
    )
    db["redirects"].create(
        {
            "id": int,
            "raw_query": str,
            "client_id": str,
            "channels": str,
            "revoked": str,
            "state": str,
            "state_match": str,
            "received_at": str,
        },
        pk="id",
        not_null={"raw_query", "received_at"},
    )
    db["redirects"].create_index(["raw_query"], unique=True)

    db["api_keys"].create(
        {
            "id": int,
            "channel_id": str,
            "operator": str,
            "created_at": str,
            "outcome": str,
            "status": str,
            "app_id": str,
            "address": str,
            "key_encrypted": str,
            "key_last4": str,
            "error": str,
        },
        pk="id",
        not_null={"channel_id", "operator", "created_at", "outcome"},
    )
    db["api_keys"].create_index(["channel_id", "created_at"])
    # One generation in flight per channel: a double click or a second operator gets no second POST.
    db.execute("create unique index api_keys_one_pending on api_keys (channel_id) where outcome = 'pending'")

    db["audit"].create(
        {"id": int, "at": str, "operator": str, "action": str, "channel_id": str, "outcome": str, "detail": str},
        pk="id",
        not_null={"at", "operator", "action", "outcome"},
    )
    db["audit"].create_index(["channel_id", "at"])


@console_migrations()
def m002_link_redirect_details(db: Database) -> None:
    # Which redirect used a link, and how each link was built (environment and hub version).
    db["io_links"].add_column("redirect_id", int)
    db["io_links"].add_column("env", str)
    db["io_links"].add_column("version", str)
    db["io_links"].create_index(["created_at"])
    # Why a stored redirect could not be read, and how many stored keys its revocations made unusable.
    db["redirects"].add_column("error", str)
    db["redirects"].add_column("keys_marked_unusable", int)
    db["redirects"].create_index(["state"])


@console_migrations()
def m003_quality_history_and_stage_counters(db: Database) -> None:
    # The value before the latest change, so a quality or limit downgrade can be told from an upgrade.
    db["channels"].add_column("previous_quality_rating", str)
    db["channels"].add_column("previous_messaging_limit", str)
    db["channels"].add_column("quality_changed_at", str)
    db["channels"].create_index(["status", "status_changed_at"])
    db["channels"].create_index(["revoked"])
    db["channels"].create_index(["updated_at"])
    db["channels"].create_index(["status", "updated_at"])
    db["channels"].create_index(["quality_changed_at"])
    db["api_keys"].create_index(["channel_id", "status"])
    db["audit"].create_index(["action", "at"])
    # Channels per status, kept by triggers, so the funnel costs the same at 100 or 100,000 channels.
    db["channel_stages"].create({"status": str, "channels": int}, pk="status")
    db.execute(
        """
        create trigger channels_stage_insert after insert on channels begin
            insert into channel_stages (status, channels) values (coalesce(new.status, 'unknown'), 1)
            on conflict (status) do update set channels = channels + 1;
        end
        """
    )
    db.execute(
        """
        create trigger channels_stage_update after update of status on channels
        when coalesce(old.status, 'unknown') != coalesce(new.status, 'unknown') begin
            update channel_stages set channels = channels - 1 where status = coalesce(old.status, 'unknown');
            insert into channel_stages (status, channels) values (coalesce(new.status, 'unknown'), 1)
            on conflict (status) do update set channels = channels + 1;
        end
        """
    )
    db.execute(
        """
        create trigger channels_stage_delete after delete on channels begin
            update channel_stages set channels = channels - 1 where status = coalesce(old.status, 'unknown');
        end
        """
    )
    db.execute(
        """
        insert into channel_stages (status, channels)
        select coalesce(status, 'unknown'), count(*) from channels group by 1
        """
    )
    # Events per hour and type, kept by a trigger so the events chart and counts never scan the whole table.
    db["event_hours"].create({"hour": str, "event_type": str, "events": int}, pk=("hour", "event_type"))
    db.execute(
        """
        create trigger events_count_hour after insert on events begin
            insert into event_hours (hour, event_type, events)
            values (substr(new.received_at, 1, 13), new.event_type, 1)
            on conflict (hour, event_type) do update set events = events + 1;
        end
        """
    )
    db.execute(
        """
        insert into event_hours (hour, event_type, events)
        select substr(received_at, 1, 13), event_type, count(*) from events group by 1, 2
        """
    )


@console_migrations()
def m004_receiver_stats(db: Database) -> None:
    # Running totals the receiver moves in the same transaction as the events they count.
    db["receiver_counters"].create({"name": str, "value": int}, pk="name", not_null={"value"}, defaults={"value": 0})
    # Requests refused before storage; the receiver keeps only the most recent ones.
    db["receiver_rejections"].create(
        {"id": int, "at": str, "source": str, "status": int, "reason": str},
        pk="id",
        not_null={"at", "status", "reason"},
    )


@console_migrations()
def m005_drop_redundant_channel_status_index(db: Database) -> None:
    # (status, status_changed_at) and (status, updated_at) already serve every lookup by status; the plain
    # status index only cost the receiver two more pages to write on each status change.
    db.execute("drop index if exists idx_channels_status")


@console_migrations()
def m006_incoming_events(db: Database) -> None:
    # Events the receiver has acknowledged and not yet listed in `events` (services/events/incoming.py).
    # One index only: the transaction a 2xx waits for should write as few pages as it can.
    db["incoming_events"].create(
        {
            "id": int,
            "dedupe_key": str,
            "event_type": str,
            "kind": str,
            "channel_id": str,
            "client_id": str,
            "status": str,
            "quality_rating": str,
            "messaging_limit": str,
            "phone_number": str,
            "raw_body": str,
            "headers": str,
            "signature_verdict": str,
            "received_at": str,
            "duplicate_count": int,
            "last_duplicate_at": str,
        },
        pk="id",
        not_null={"dedupe_key", "event_type", "kind", "raw_body", "received_at", "duplicate_count"},
        defaults={"duplicate_count": 0},
    )
    db["incoming_events"].create_index(["dedupe_key"], unique=True)


@console_migrations()
def m007_redirect_verdicts(db: Database) -> None:
    # A redirect is a claim: what was decided about it, why, and by whom (contract section 2).
    db["redirects"].add_column("verdict", str)
    db["redirects"].add_column("verdict_reason", str)
    db["redirects"].add_column("decided_by", str)
    db["redirects"].add_column("decided_at", str)
    db.execute("update redirects set verdict = 'refused' where error is not null")
    # Stored before verdicts existed, these were applied whatever their state said.
    db.execute(
        "update redirects set verdict = 'applied_unchecked', verdict_reason = 'applied before redirects were checked' "
        "where verdict is null and client_id is not null"
    )
    db["redirects"].create_index(["verdict", "id"])


@console_migrations()
def m008_sign_in_throttle(db: Database) -> None:
    # Failed sign-ins per source address (and per name from that address), shared by every dashboard process.
    db["sign_in_throttle"].create(
        {"key": str, "failures": int, "blocked_until": float, "last_failure_at": float},
        pk="key",
        not_null={"failures", "blocked_until"},
        defaults={"failures": 0, "blocked_until": 0.0},
    )


@console_migrations()
def m009_key_readiness(db: Database) -> None:
    # After a key is made: is it accepted, and is the number's messaging webhook set (contract section 6)?
    # One row per key and step, so each step shows, and is retried, on its own.
    db["key_steps"].create(
        {"key_id": int, "step": str, "status": str, "detail": str, "at": str, "operator": str},
        pk=("key_id", "step"),
        not_null={"status", "at"},
        foreign_keys=[("key_id", "api_keys", "id")],
    )
    # Active keys are what the "not ready to use" list walks.
    db["api_keys"].create_index(["status", "id"])
    # Why a channel's key permission is what it is, in 360dialog's words when they gave any.
    db["channels"].add_column("permission_detail", str)


@console_migrations()
def m010_sync_runs_and_left_running(db: Database) -> None:
    # A sync applies the Partner API's status whatever the order; when that takes a channel out of running,
    # when it was seen and the status it went to, until it is running again.
    db["channels"].add_column("left_running_at", str)
    db["channels"].add_column("left_running_to", str)
    db.execute("create index channels_left_running on channels (left_running_at) where left_running_at is not null")
    # Each sync with the Partner API, by the scheduler or an operator: when, how long, what came of it.
    db["sync_runs"].create(
        {
            "id": int,
            "trigger": str,
            "operator": str,
            "started_at": str,
            "finished_at": str,
            "duration_seconds": float,
            "outcome": str,
            "error_kind": str,
            "error": str,
            "seen": int,
            "total": int,
            "new_channels": int,
            "changed_channels": int,
            "left_running": int,
        },
        pk="id",
        not_null={"trigger", "operator", "started_at", "outcome"},
    )
    db["sync_runs"].create_index(["started_at"])
    # One sync at a time across processes: the row names who holds it and until when (renewed every page).
    db["sync_lease"].create(
        {
            "name": str,
            "token": str,
            "holder": str,
            "host": str,
            "pid": int,
            "run_id": int,
            "acquired_at": str,
            "expires_at": str,
        },
        pk="name",
        not_null={"token", "holder", "acquired_at", "expires_at"},
    )
    # The scheduler process as it last said: alive since when, how often it syncs, when it syncs next.
    db["scheduler_state"].create(
        {
            "name": str,
            "pid": int,
            "host": str,
            "started_at": str,
            "interval_minutes": float,
            "next_run_at": str,
            "stopped_at": str,
        },
        pk="name",
    )
    # Which sync run wrote a channel's sync audit row, so its timeline can name the run.
    db["audit"].add_column("sync_run_id", int)


def phone_digits_sql(column: str) -> str:
    """services.whatsapp.phone_digits as an SQL expression on `column` (a fixed name of our own)."""
    stripped = column
    for separator in PHONE_SEPARATORS:
        stripped = f"replace({stripped}, char({ord(separator)}), '')"
    return f"(case when ltrim({stripped}, '0123456789') = '' then nullif({stripped}, '') end)"


@console_migrations()
def m011_account_alerts_by_number(db: Database) -> None:
    # Account violations and restrictions name a number, not a channel (contract section 5). Channels and
    # those events keep the number's digits under an index, so that each finds the other whatever the
    # spelling ("+49 151 ..." on a channel, "49151..." in an event). On channels the digits are a generated
    # column: whatever writes phone_number (webhooks, syncs, by hand), they follow.
    db.execute(f"alter table channels add column phone_digits text as {phone_digits_sql('phone_number')}")
    db.execute("create index idx_channels_phone_digits on channels (phone_digits)")
    # Events are read once, when they arrive (services.events.webhook); those stored before are read here.
    for table in ("events", "incoming_events"):
        db[table].add_column("phone_digits", str)
        alerts = db.execute(
            f"""
            select id, coalesce(json_extract(raw_body, '$.data.setup_info.phone_number'),
                                json_extract(raw_body, '$.data.phone_number'))
            from {table}
            where event_type in ('account_violation', 'account_restriction') and json_valid(raw_body)
            """  # noqa: S608 - the two table names above
        ).fetchall()
        db.conn.executemany(
            f"update {table} set phone_digits = ? where id = ?",  # noqa: S608 - the two table names above
            [(phone_digits(number), id_) for id_, number in alerts],
        )
    # Only account alerts carry digits: other events add nothing to this index.
    db.execute(
        "create index idx_events_phone_digits_received_at on events (phone_digits, received_at)"
        " where phone_digits is not null"
    )


def _written_numbers(body: str | None) -> str | None:
    try:
        return written_numbers(json.loads(body or ""))
    except (ValueError, RecursionError):
        return None


_INDEX_EVENT_SQL = "insert into events_fts (rowid, body, numbers) values ({row}.id, {row}.raw_body, {row}.numbers);"
_UNINDEX_EVENT_SQL = (
    "insert into events_fts (events_fts, rowid, body, numbers) "
    "values ('delete', {row}.id, {row}.raw_body, {row}.numbers);"
)


@console_migrations()
def m012_events_full_text_search(db: Database) -> None:
    # Every stored event is searchable (services/events/search.py). The index holds each event's raw body, as
    # words, and `numbers`: the digits of the numbers the payload writes with separators, so that any spelling
    # of a phone number finds it (services.whatsapp.written_numbers). Like phone_digits (m011), numbers are read
    # once, when an event arrives (services.events.webhook); those stored before are read here.
    for table in ("events", "incoming_events"):
        db[table].add_column("numbers", str)
        found = [(_written_numbers(body), id_) for id_, body in db.execute(f"select id, raw_body from {table}")]  # noqa: S608 - the two table names above
        db.conn.executemany(
            f"update {table} set numbers = ? where id = ?",  # noqa: S608 - the two table names above
            [(numbers, id_) for numbers, id_ in found if numbers],
        )
    # Contentless: the body stays in `events` alone. Triggers on `events` keep the index, so it is written when
    # the writer lists incoming events, never in the transaction a webhook's 2xx waits for (that one writes
    # `incoming_events`). A statement that lists many events at once costs FTS5 far less per event than one
    # statement per event, which makes it write a segment each time.
    db.execute(
        "create virtual table events_fts using fts5("
        "body, numbers, content='', tokenize='unicode61 remove_diacritics 2')"
    )
    index_new, unindex_old = _INDEX_EVENT_SQL.format(row="new"), _UNINDEX_EVENT_SQL.format(row="old")
    db.execute(f"create trigger events_fts_insert after insert on events begin {index_new} end")
    db.execute(f"create trigger events_fts_delete after delete on events begin {unindex_old} end")
    db.execute(
        "create trigger events_fts_update after update of raw_body, numbers on events begin "
        f"{unindex_old} {index_new} end"
    )
    db.execute("insert into events_fts (rowid, body, numbers) select id, raw_body, numbers from events")
    # The signature verdict filter: its pages by time, and the verdicts there are, without a scan.
    db["events"].create_index(["signature_verdict", "received_at"])


@console_migrations()
def m013_names_from_webhooks(db: Database) -> None:
    # A webhook's channel object names the number and the business: kept until listed, then projected.
    db["incoming_events"].add_column("phone_name", str)
    db["incoming_events"].add_column("client_name", str)


@console_migrations()
def m014_clients_page(db: Database) -> None:
    # The Clients page (services/read_models/clients.py): clients newest first a page at a time, and one client's
    # redirects, each read through an index however many clients there are.
    db["clients"].create_index(["first_seen_at", "id"])
    db["redirects"].create_index(["client_id", "id"])


@console_migrations()
def m015_alerts(db: Database) -> None:
    # What the scheduler alerts on (services/alerts): one row per channel (or subject) and condition from the
    # time it fires until it resolves; a new row when it fires again. Which message carried each notice.
    db["alerts"].create(
        {
            "id": int,
            "rule": str,
            "subject": str,
            "channel_id": str,
            "state": str,
            "detail": str,
            "fired_at": str,
            "resolved_at": str,
            "fired_message_id": int,
            "resolved_message_id": int,
        },
        pk="id",
        not_null={"rule", "subject", "state", "fired_at"},
    )
    # One open alert per subject and condition, whatever runs the evaluation.
    db.execute("create unique index alerts_one_open on alerts (rule, subject) where state = 'firing'")
    db.execute(
        "create index alerts_unsent on alerts (id)"
        " where fired_message_id is null or (state = 'resolved' and resolved_message_id is null)"
    )
    db["alerts"].create_index(["fired_at"])
    # What was composed to send: one alert, one resolution, a digest, a summary of what a cap held back, a test.
    db["alert_messages"].create(
        {
            "id": int,
            "kind": str,
            "level": str,
            "title": str,
            "body": str,
            "notices": int,
            "operator": str,
            "created_at": str,
        },
        pk="id",
        not_null={"kind", "level", "title", "body", "created_at"},
    )
    db["alert_messages"].create_index(["created_at"])
    # Each message to each destination: attempts, the last error in our words, when the next try is due.
    # A destination is named by its scheme and host only, and known again by a digest of its URL.
    db["alert_deliveries"].create(
        {
            "id": int,
            "message_id": int,
            "destination": str,
            "destination_key": str,
            "status": str,
            "attempts": int,
            "last_error": str,
            "created_at": str,
            "next_attempt_at": str,
            "claimed_until": str,
            "last_attempt_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"message_id", "destination", "destination_key", "status", "attempts", "created_at"},
        defaults={"attempts": 0},
        foreign_keys=[("message_id", "alert_messages", "id")],
    )
    db.execute("create index alert_deliveries_due on alert_deliveries (next_attempt_at) where status = 'pending'")
    db["alert_deliveries"].create_index(["message_id"])


@console_migrations()
def m016_partial_channel_indexes(db: Database) -> None:
    # Nearly every channel is unrevoked and has had no quality change: indexing only the ones that have makes
    # each new channel two B-tree writes cheaper (a first sync writes thousands) and serves the same queries.
    db.execute("drop index if exists idx_channels_revoked")
    db.execute("create index idx_channels_revoked_updated_at on channels (updated_at) where revoked = 1")
    db.execute("drop index if exists idx_channels_quality_changed_at")
    db.execute(
        "create index idx_channels_quality_changed_at on channels (quality_changed_at)"
        " where quality_changed_at is not null"
    )


def query_hash(raw_query: str) -> str:
    """What finds a stored redirect's query: its SHA-256, so the query itself is stored once, not in an index too."""
    return hashlib.sha256(raw_query.encode("utf-8", "surrogatepass")).hexdigest()


@console_migrations()
def m017_redirects_stored_once_and_bounded(db: Database) -> None:
    # A redirect is found by its query's hash: the unique index on the query stored every query twice.
    db["redirects"].add_column("query_hash", str)
    rows = db.execute("select id, raw_query from redirects").fetchall()
    db.conn.executemany("update redirects set query_hash = ? where id = ?", [(query_hash(q), i) for i, q in rows])
    db.execute("drop index if exists idx_redirects_raw_query")
    db.execute("create unique index idx_redirects_query_hash on redirects (query_hash)")
    # Where each came from (the caps count per source), and when the scheduler last asked 360dialog about it.
    db["redirects"].add_column("source", str)
    db["redirects"].add_column("checked_at", str)
    db.execute(
        "create index redirects_unreviewed_source on redirects (source)"
        " where verdict is null or verdict in ('pending', 'held', 'refused')"
    )
    db.execute("create index redirects_pending on redirects (checked_at, id) where verdict = 'pending'")
    # A link vouches for one client: the first redirect that used it.
    db["io_links"].add_column("client_id", str)
    db.execute(
        "update io_links set client_id = (select client_id from redirects where redirects.id = io_links.redirect_id)"
        " where redirect_id is not null"
    )
    # Redirects not stored because a cap was reached: how many, per source, and when.
    db["redirect_drops"].create(
        {"source": str, "dropped": int, "first_dropped_at": str, "last_dropped_at": str, "last_reason": str},
        pk="source",
    )


def phone_national_sql(column: str) -> str:
    """services.phone_numbers.national_number as an SQL expression on `column` (the E.164 digits, a fixed name
    of our own): the digits after the country code. Calling codes are prefix-free (none starts another), so the
    one a number starts with is found by its first 1, 2 or 3 digits; the codes are phonenumbers' own."""
    by_length: dict[int, list[str]] = {}
    for code, length in sorted(country_code_lengths().items()):
        by_length.setdefault(length, []).append(code)
    cases = " ".join(
        f"when substr({column}, 1, {length}) in ({', '.join(repr(code) for code in codes)})"
        f" then nullif(substr({column}, {length + 1}), '')"
        for length, codes in sorted(by_length.items())
    )
    return f"(case {cases} end)"


_NAME_TOKENIZER = "tokenize='unicode61 remove_diacritics 2'"


@console_migrations()
def m018_search_names_and_national_numbers(db: Database) -> None:
    # What people type finds what is stored (services/channels/search.py). A number typed in national form ("600111222")
    # finds a channel by its national significant number, whatever its country: a generated column beside
    # phone_digits (m011), so it follows whatever writes phone_number.
    db.execute(f"alter table channels add column phone_national text as {phone_national_sql('phone_digits')}")
    db.execute("create index idx_channels_phone_national on channels (phone_national) where phone_national is not null")
    # Names with accents and case folded and found by their words' starts ("cafe ole" finds "Café Olé"): one
    # small full-text index per table, kept by triggers that fire only when the name changes (a sync rewrites
    # every column of every channel).
    for index, table, id_column, name in (
        ("channel_names", "channels", "channel_id", "phone_name"),
        ("client_names", "clients", "client_id", "name"),
    ):
        db.execute(f"create virtual table {index} using fts5({id_column} unindexed, name, {_NAME_TOKENIZER})")
        add = f"insert into {index} ({id_column}, name) select new.id, new.{name} where new.{name} is not null;"
        remove = f"delete from {index} where {id_column} = old.id;"  # noqa: S608 - fixed names of our own
        db.execute(f"create trigger {index}_insert after insert on {table} begin {add} end")
        db.execute(
            f"create trigger {index}_update after update of id, {name} on {table}"
            f" when old.{name} is not new.{name} or old.id is not new.id begin {remove} {add} end"
        )
        db.execute(f"create trigger {index}_delete after delete on {table} begin {remove} end")
        db.execute(
            f"insert into {index} ({id_column}, name) select id, {name} from {table} where {name} is not null"  # noqa: S608 - fixed names of our own
        )


@console_migrations()
def m024_accounts_and_sessions(db: Database) -> None:
    # Password accounts for teams without single sign-on (services/accounts): one per person, the password kept
    # only as a scrypt hash. A removed account keeps its row (the audit names it); its name may be taken again.
    db["accounts"].create(
        {
            "id": int,
            "name": str,
            "display_name": str,
            "role": str,
            "password_hash": str,
            "created_at": str,
            "password_changed_at": str,
            "last_sign_in_at": str,
            "removed_at": str,
        },
        pk="id",
        not_null={"name", "display_name", "role", "password_hash", "created_at", "password_changed_at"},
    )
    db.execute("create unique index accounts_current_name on accounts (name collate nocase) where removed_at is null")
    # A signed-in browser's session: only a digest of its token is kept, so this table opens no session.
    db["sessions"].create(
        {
            "id": str,
            "account_id": int,
            "role": str,
            "created_at": str,
            "expires_at": str,
            "ended_at": str,
            "last_seen_at": str,
        },
        pk="id",
        not_null={"account_id", "role", "created_at", "expires_at"},
        foreign_keys=[("account_id", "accounts", "id")],
    )
    db.execute("create index sessions_open_by_account on sessions (account_id) where ended_at is null")


@console_migrations()
def m025_audit_role(db: Database) -> None:
    # The role the person acted in, beside who they are (null for rows before, and for the scheduler and rules).
    db["audit"].add_column("role", str)


@console_migrations()
def m028_key_refusals_and_permission_rechecks(db: Database) -> None:
    # A 403 on a key request is 360dialog refusing that request, in its own words: kept beside the permission,
    # which only shared_client_numbers decides. Rows a 403 marked 'denied' before go back to 'unknown'.
    db["channels"].add_column("key_refusal", str)
    db["channels"].add_column("key_refused_at", str)
    db.execute(
        "update channels set key_refusal = permission_detail, key_refused_at = updated_at,"
        " permission = 'unknown', permission_detail = null where permission = 'denied'"
    )
    # The permission before its last change, and when it changed (the "permission changed" alert).
    db["channels"].add_column("previous_permission", str)
    db["channels"].add_column("permission_changed_at", str)
    # When to ask 360dialog again about a client's key permission, and the wait that doubles while unsettled.
    db["permission_rechecks"].create(
        {"client_id": str, "checked_at": str, "next_at": str, "wait_minutes": float, "outcome": str},
        pk="client_id",
    )
    db["permission_rechecks"].create_index(["next_at"])


_ENDED_SQL = (
    "(case when terminated_at is not null then 'terminated' when cancellation = 'cancelled' then 'cancelled' end)"
)
_STAGE_OF = "coalesce({row}.ended, {row}.status, 'unknown')"


@console_migrations()
def m029_wabas_portfolios_and_endings(db: Database) -> None:
    # Template events name a WABA, not a channel, and Meta sets messaging limits per business portfolio since
    # October 2025 (contract section 7): each channel keeps its WABA (360dialog's id and Meta's external one) and,
    # when given, its portfolio, so both reach its numbers. A channel can end: terminated_at from 360dialog, or a
    # processed cancellation; `ended` follows them, and a pending cancellation request is kept apart.
    for column in ("waba_id", "waba_external_id", "portfolio_id", "terminated_at", "cancellation", "cancellation_at"):
        db["channels"].add_column(column, str)
    db.execute(f"alter table channels add column ended text as {_ENDED_SQL}")
    db.execute("create index idx_channels_waba_id on channels (waba_id) where waba_id is not null")
    db.execute(
        "create index idx_channels_waba_external_id on channels (waba_external_id) where waba_external_id is not null"
    )
    # The funnel counts an ended channel under how it ended, so it leaves the onboarding stages.
    for trigger in ("channels_stage_insert", "channels_stage_update", "channels_stage_delete"):
        db.execute(f"drop trigger {trigger}")
    new, old = _STAGE_OF.format(row="new"), _STAGE_OF.format(row="old")
    db.execute(
        f"""
        create trigger channels_stage_insert after insert on channels begin
            insert into channel_stages (status, channels) values ({new}, 1)
            on conflict (status) do update set channels = channels + 1;
        end
        """  # noqa: S608 - fixed fragments of our own
    )
    db.execute(
        f"""
        create trigger channels_stage_update after update of status, terminated_at, cancellation on channels
        when {old} != {new} begin
            update channel_stages set channels = channels - 1 where status = {old};
            insert into channel_stages (status, channels) values ({new}, 1)
            on conflict (status) do update set channels = channels + 1;
        end
        """  # noqa: S608 - fixed fragments of our own
    )
    db.execute(
        f"""
        create trigger channels_stage_delete after delete on channels begin
            update channel_stages set channels = channels - 1 where status = {old};
        end
        """  # noqa: S608 - fixed fragments of our own
    )
    # Template and cancellation events, and channel events that name a WABA or portfolio: kept per event,
    # and template events found by their WABA.
    for table in ("events", "incoming_events"):
        db[table].add_column("waba_id", str)
    for column in ("waba_external_id", "portfolio_id", "terminated_at"):
        db["incoming_events"].add_column(column, str)
    db.execute(
        "create index idx_events_waba_id_received_at on events (waba_id, received_at)"
        " where waba_id is not null and kind = 'template'"
    )
    templates = db.execute(
        "select id, json_extract(raw_body, '$.data.id') from events"
        " where event_type in ('waba_template_status_changed', 'template_messaging_enabled',"
        " 'template_messaging_disabled') and json_valid(raw_body)"
    ).fetchall()
    db.conn.executemany(
        "update events set kind = 'template', waba_id = ? where id = ?",
        [(waba, id_) for id_, waba in templates if isinstance(waba, str)],
    )


@console_migrations()
def m027_links_signed_at_each_click(db: Database) -> None:
    # A signed link points at the console (/connect/<token>), which signs a new IO Signature at each click: an IO
    # Signature lives 24 hours and starts IO once, a link on paper or in a mail lives longer. The token is found
    # by its unique index; the link keeps its own expiry, where its hub link points, and its clicks.
    for column in ("token", "hub_url", "expires_at", "last_click_at"):
        db["io_links"].add_column(column, str)
    db["io_links"].add_column("clicks", int, not_null_default=0)
    db.execute("create unique index idx_io_links_token on io_links (token) where token is not null")
    # The last second a click was signed for: a signature is HMAC("{partner}|{seconds}"), so two clicks in one
    # second would get the same signature, and 360dialog starts IO once per signature.
    db.execute("create index idx_io_links_signed_at on io_links (io_timestamp) where token is not null")
    # Links handed out before lived as long as the signature they carried.
    db.execute(
        "update io_links set expires_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', created_at, '+1 day')"
        " where expires_at is null"
    )


@console_migrations()
def m030_key_health(db: Database) -> None:
    # A key can stop working with no event (the client generated its own key or withdrew permission in its hub,
    # contract section 7): every active key is asked again on a schedule. One row per key: its last verdict,
    # when it last changed, when it is due next (unix seconds, spread over the interval), and the lease a
    # checker holds while it asks, so no key is asked twice at once.
    db["key_health"].create(
        {
            "key_id": int,
            "channel_id": str,
            "status": str,
            "detail": str,
            "checked_at": str,
            "changed_at": str,
            "problem": str,
            "problem_at": str,
            "failures": int,
            "due_at": float,
            "lease_holder": str,
            "lease_until": float,
        },
        pk="key_id",
        not_null={"status", "due_at", "failures"},
        defaults={"status": "unchecked", "failures": 0},
        foreign_keys=[("key_id", "api_keys", "id")],
    )
    db["key_health"].create_index(["due_at"])
    db.execute("create index idx_key_health_stopped on key_health (key_id) where status = 'stopped'")
    # What each round did, for Receiver health; old rounds are pruned as new ones are written.
    db["key_health_rounds"].create(
        {
            "id": int,
            "holder": str,
            "started_at": str,
            "finished_at": str,
            "checked": int,
            "stopped": int,
            "could_not_check": int,
            "still_due": int,
        },
        pk="id",
    )


@console_migrations()
def m031_audit_runs(db: Database) -> None:
    # A bulk action (keys for 79 channels) writes a few rows per channel: each row names the run it belongs
    # to, and the run's own row sums it up, so the Audit page lists one line per run.
    db["audit"].add_column("run_id", int)
    db["audit"].create_index(["run_id"], if_not_exists=True)


@console_migrations()
def m022_links_closed(db: Database) -> None:
    # An operator may close a link handed out: its console route then refuses it and its state vouches for
    # nothing. Who closed it is kept with when, as for everything an operator does.
    db["io_links"].add_column("closed_at", str)
    db["io_links"].add_column("closed_by", str)


# A rating this bad is an alert and an attention reason whatever came before (services.read_models.work_queue and
# services.alerts.rules read it with this very fragment, so SQLite uses the partial index below).
BAD_QUALITY_RATINGS = ("FLAGGED", "RED")
BAD_QUALITY_SQL = "upper(trim(quality_rating)) in ('FLAGGED', 'RED')"


@console_migrations()
def m020_alerts_that_rank(db: Database) -> None:
    # Each alert's severity and how bad it is (a worse change is news again, even when snoozed); who
    # acknowledged it and when; until when it stays quiet.
    for column, kind in (
        ("severity", str),
        ("badness", int),
        ("worsened_at", str),
        ("acked_at", str),
        ("acked_by", str),
        ("snoozed_until", str),
        ("snoozed_by", str),
    ):
        db["alerts"].add_column(column, kind)
    db.execute("update alerts set severity = 'warning', badness = 0")
    db.execute(f"create index idx_channels_bad_quality on channels (updated_at) where {BAD_QUALITY_SQL}")


# A channel wants a key when it runs, is neither revoked nor ended, and its latest attempt that did not plainly
# fail left it no key (services.keys.key_status decides the same; copied here, as a migration never changes).
_WANTS_KEY = """{row}.status = 'running' and {row}.revoked = 0 and {row}.ended is null and coalesce((
        select case when k.outcome in ('unknown', 'pending') then k.outcome else coalesce(k.status, 'none') end
        from api_keys k where k.channel_id = {row}.id and k.outcome != 'failed' order by k.id desc limit 1
    ), 'none') in ('none', 'revoked')"""


def _list_if_wanting(channel_id: str) -> str:
    """SQL listing the channel, as it is now, among those wanting a key when it wants one."""
    return (
        "insert into channels_wanting_key (channel_id, granted, since)"  # noqa: S608 - fixed fragments of our own
        f" select c.id, c.permission is 'granted', c.status_changed_at from channels c"
        f" where c.id = {channel_id} and {_WANTS_KEY.format(row='c')}"
    )


def _unlist(channel_id: str) -> str:
    return f"delete from channels_wanting_key where channel_id = {channel_id}"  # noqa: S608


# A key is not ready to use while it is active, its channel neither revoked nor ended, and fewer than its three
# steps are done (services.keys.readiness decides the same; copied here, as a migration never changes).
_NOT_READY = """k.status = 'active' and (
        select count(*) from key_steps s where s.key_id = k.id and s.status in ('ok', 'attention', 'not_verifiable')
    ) < 3"""


def _list_if_not_ready(where: str) -> str:
    """SQL listing the keys `where` picks out (as they are now) among those not ready to use, when they are."""
    return (
        "insert into keys_not_ready (key_id, channel_id, created_at)"  # noqa: S608 - fixed fragments of our own
        " select k.id, k.channel_id, k.created_at from api_keys k"
        " join channels c on c.id = k.channel_id and c.revoked = 0 and c.ended is null"
        f" where {where} and {_NOT_READY}"
    )


def _relist_key(old_id: str, new_id: str) -> str:
    return f"delete from keys_not_ready where key_id = {old_id}; {_list_if_not_ready(f'k.id = {new_id}')}"  # noqa: S608


def _relist_channel(old_id: str, new_id: str) -> str:
    """SQL listing again every key of a channel, as the channel now is."""
    return (
        f"delete from keys_not_ready where channel_id = {old_id};"  # noqa: S608
        f" {_list_if_not_ready(f'k.channel_id = {new_id}')}"
    )


def _keys_not_ready(db: Database) -> None:
    # Active keys not ready to use, kept by triggers: the work queue lists the oldest and the Channels page counts
    # them on every refresh, which otherwise asked every active key for its steps.
    db["keys_not_ready"].create({"key_id": int, "channel_id": str, "created_at": str}, pk="key_id")
    db["keys_not_ready"].create_index(["created_at"])
    db["keys_not_ready"].create_index(["channel_id"])
    triggers = {
        "api_keys_ready_insert": ("after insert on api_keys", _relist_key("new.id", "new.id")),
        "api_keys_ready_update": (
            "after update of id, channel_id, status, created_at on api_keys",
            _relist_key("old.id", "new.id"),
        ),
        "api_keys_ready_delete": ("after delete on api_keys", "delete from keys_not_ready where key_id = old.id"),
        "key_steps_ready_insert": ("after insert on key_steps", _relist_key("new.key_id", "new.key_id")),
        "key_steps_ready_update": (
            "after update of key_id, status on key_steps",
            _relist_key("old.key_id", "old.key_id") + "; " + _relist_key("new.key_id", "new.key_id"),
        ),
        "key_steps_ready_delete": ("after delete on key_steps", _relist_key("old.key_id", "old.key_id")),
        "channels_ready_insert": ("after insert on channels", _relist_channel("new.id", "new.id")),
        "channels_ready_update": (
            "after update of id, revoked, terminated_at, cancellation on channels",
            _relist_channel("old.id", "new.id"),
        ),
        "channels_ready_delete": ("after delete on channels", "delete from keys_not_ready where channel_id = old.id"),
    }
    for name, (when, body) in triggers.items():
        db.execute(f"create trigger {name} {when} begin {body}; end")
    # How many, kept from the list itself, for the "Make N keys ready" button.
    db["keys_not_ready_count"].create({"id": int, "keys": int}, pk="id")
    db.execute(
        """
        create trigger keys_not_ready_counted after insert on keys_not_ready begin
            insert into keys_not_ready_count (id, keys) values (1, 1) on conflict (id) do update set keys = keys + 1;
        end
        """
    )
    db.execute(
        """
        create trigger keys_not_ready_uncounted after delete on keys_not_ready begin
            update keys_not_ready_count set keys = keys - 1;
        end
        """
    )
    db.execute(_list_if_not_ready("1"))


@console_migrations()
def m032_work_queue_reads_bounded(db: Database) -> None:
    # The work queue reads the first few cancellations pending and key refusals on every refresh: without these
    # (few rows, so cheap to keep) it read every channel to find them.
    db.execute(
        "create index idx_channels_cancellation_requested on channels (cancellation_at)"
        " where cancellation = 'requested'"
    )
    db.execute("create index idx_channels_key_refused on channels (key_refused_at) where key_refusal is not null")
    # So are the key attempts to check (few) and the keys that stopped working (few), newest first.
    db.execute("create index idx_api_keys_unknown on api_keys (created_at) where outcome = 'unknown'")
    db.execute("create index idx_key_health_stopped_changed_at on key_health (changed_at) where status = 'stopped'")
    # The channels wanting a key, kept by triggers: the work queue lists the longest running of them and the bulk
    # keys button counts them on every refresh, which otherwise asked every running channel for its key. Any
    # change to a channel or to a key attempt lists the channel again as it now is.
    db["channels_wanting_key"].create({"channel_id": str, "granted": int, "since": str}, pk="channel_id")
    db["channels_wanting_key"].create_index(["since"])
    db.execute(
        f"create trigger channels_wanting_key_insert after insert on channels begin {_list_if_wanting('new.id')}; end"
    )
    db.execute(f"create trigger channels_wanting_key_delete after delete on channels begin {_unlist('old.id')}; end")
    db.execute(
        f"""
        create trigger channels_wanting_key_update after update of id, status, status_changed_at, revoked,
            terminated_at, cancellation, permission on channels begin
            {_unlist("old.id")};
            {_list_if_wanting("new.id")};
        end
        """
    )
    for event, row in (("insert", "new"), ("delete", "old")):
        db.execute(
            f"""
            create trigger api_keys_wanting_{event} after {event} on api_keys begin
                {_unlist(f"{row}.channel_id")};
                {_list_if_wanting(f"{row}.channel_id")};
            end
            """
        )
    db.execute(
        f"""
        create trigger api_keys_wanting_update after update of id, channel_id, outcome, status on api_keys begin
            {_unlist("old.channel_id")};
            {_list_if_wanting("old.channel_id")};
            {_unlist("new.channel_id")};
            {_list_if_wanting("new.channel_id")};
        end
        """
    )
    # How many, per permission granted or not, kept from the list itself, so the button costs the same at any size.
    db["channels_wanting_key_counts"].create({"granted": int, "channels": int}, pk="granted")
    db.execute(
        """
        create trigger channels_wanting_key_counted after insert on channels_wanting_key begin
            insert into channels_wanting_key_counts (granted, channels) values (new.granted, 1)
            on conflict (granted) do update set channels = channels + 1;
        end
        """
    )
    db.execute(
        """
        create trigger channels_wanting_key_uncounted after delete on channels_wanting_key begin
            update channels_wanting_key_counts set channels = channels - 1 where granted = old.granted;
        end
        """
    )
    db.execute(
        f"""
        insert into channels_wanting_key (channel_id, granted, since)
        select c.id, c.permission is 'granted', c.status_changed_at from channels c where {_WANTS_KEY.format(row="c")}
        """  # noqa: S608 - fixed fragments of our own
    )
    _keys_not_ready(db)
