"""A console database at a partner's size for the browser benchmark: clients, channels across the funnel, keys,
and events of the real types over 60 days; seeded once per size into a cache folder, copied for each run.

Seeding is one transaction of executemany batches. The events go in with the two triggers that index them
(the full-text index and the hourly counts) set aside, and both are built once afterwards from the table, with
the very statements their migrations use, before the triggers are put back as they were.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from bench.seed import OLD_WORD
from services.events.webhook import IMPLIES_RUNNING, KIND_BY_EVENT
from services.keys.key_status import STEPS
from services.keys.vault import KeyVault, last_four
from services.migrations import console_migrations
from services.settings import DEMO_SECRETS_FILE, load_demo_secrets
from services.store import open_console_db
from services.whatsapp import written_numbers

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench-data"
CONSOLE_DB = "console.db"
# Bumped when what the seed writes changes, so that a cached copy of an older seed is not reused.
SEED_VERSION = 1
# The seed's times are relative to when it was made (the last 24 hours of events, stuck onboardings): an older
# copy is seeded again.
CACHE_HOURS = 6
BATCH = 50_000
EVENT_SPAN_DAYS = 60
# The oldest event of all is this client's registration; no other event or name holds the word.
OLD_CLIENT_NAME = f"{OLD_WORD.capitalize()} Outfitters"
# Out of 100: where a channel stands in the funnel. Most numbers of a big partner have long been running.
FUNNEL = (("running", 85), ("ready", 3), ("submitted", 4), ("pending", 4), ("created", 4))
# Of the channels still onboarding, this share is recent; the rest have been stuck for hours to weeks.
RECENT_ONBOARDING = 0.2
RED_EVERY, YELLOW_EVERY = 200, 50  # of running channels: quality RED (fell from GREEN) or YELLOW
KEY_SHARE = 0.9  # of running channels with a key; the others need one
KEY_NOT_READY_EVERY = 100  # of keys: the messaging webhook never read back
# Every key was checked lately and is due again after this: key health asks the hub (which knows none of these
# keys) nothing while a cached seed is in use.
KEY_HEALTH_DUE_SECONDS = 24 * 3600
LIMITS = ("TIER_1K", "TIER_10K", "TIER_100K", "TIER_250")
COUNTRIES = (("49", "151", 8), ("34", "6", 8), ("31", "6", 8), ("44", "7", 9), ("1", "415", 7), ("39", "3", 9))
_FIRST_WORDS = (
    "Nordlicht Sonnen Blue Golden Green Alpen Costa Bella Urban Silver Oak Harbor Maple Royal Lucky Fresh "
    "Happy Bright Casa Piazza Berg Kiez Delta Mosaic Pioneer Velvet Cedar Amber Coral Linden Falcon "
    "Willow Aurora Nova Luna"
)
FIRST_WORDS = tuple(_FIRST_WORDS.split())
_SECOND_WORDS = (
    "Bakery Bikes Dental Pharmacy Travel Fashion Motors Books Coffee Florist Optics Fitness Insurance "
    "Realty Logistics Pets Shoes Salon Garden Electronics Tapas Pizzeria Hotel Clinic Academy Brewery "
    "Studio Market Telecom Furniture"
)
SECOND_WORDS = tuple(_SECOND_WORDS.split())
FORMS = ("GmbH", "S.L.", "B.V.", "Ltd", "Inc.", "S.r.l.", "AG", "KG", "& Co", "Group", "Store", "Shop")
BRANCHES = ("Berlin", "Madrid", "Amsterdam", "London", "Boston", "Milan", "Support", "Sales", "Orders", "Service")
# Out of 100: the events a running channel goes on receiving once onboarded.
LATER_EVENTS = (("phone_number_quality_changed", 70), ("waba_template_status_changed", 26), ("account_violation", 4))
# The running step as the Connect Button page names it: its body carries an id, so each is an event of its own.
ONBOARDING = ("channel_created", "channel_submitted", "channel_live", "channel_status_running")
STAGE_EVENTS = {"created": 1, "pending": 1, "submitted": 2, "ready": 3, "running": 4}
_EVENT_COLUMNS = (
    "dedupe_key, event_type, kind, channel_id, client_id, status, raw_body, headers, signature_verdict, received_at,"
    " numbers, phone_digits, waba_id"
)
# Set aside while the events go in, then built once (services.migrations m003 and m012 build them so too).
_EVENT_INDEX_TRIGGERS = ("events_fts_insert", "events_count_hour")
_BUILD_EVENT_INDEXES = (
    "insert into events_fts (rowid, body, numbers) select id, raw_body, numbers from events",
    "insert into event_hours (hour, event_type, events)"
    " select substr(received_at, 1, 13), event_type, count(*) from events group by 1, 2",
)


@dataclass(frozen=True)
class Sizes:
    channels: int
    clients: int
    events: int

    def folder_name(self) -> str:
        migrations = len(console_migrations._migrations)
        return f"browser-c{self.channels}-k{self.clients}-e{self.events}-m{migrations}-v{SEED_VERSION}"


@dataclass(frozen=True)
class Channel:
    id: str
    client_id: str
    status: str
    phone_number: str
    phone_name: str
    changed_at: datetime


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    names, weights = zip(*choices, strict=True)
    return rng.choices(names, weights)[0]


def client_name(index: int) -> str:
    """A business name of its own for each index up to 12,600: word, word, legal form."""
    first, rest = divmod(index, len(SECOND_WORDS) * len(FORMS))
    second, form = divmod(rest, len(FORMS))
    return f"{FIRST_WORDS[first % len(FIRST_WORDS)]} {SECOND_WORDS[second]} {FORMS[form]}"


def e164(index: int) -> str:
    """An E.164 number of its own for each index, in one of six countries."""
    country, prefix, digits = COUNTRIES[index % len(COUNTRIES)]
    return f"+{country}{prefix}{index:0{digits}d}"


def _channel(rng: random.Random, index: int, clients: int, now: datetime) -> Channel:
    status = _weighted(rng, FUNNEL)
    if status == "running":
        changed = now - timedelta(days=rng.uniform(1, EVENT_SPAN_DAYS))
    elif rng.random() < RECENT_ONBOARDING:
        changed = now - timedelta(minutes=rng.uniform(1, 50))
    else:
        changed = now - timedelta(hours=rng.uniform(2, 24 * 30))
    # The last client (the one the oldest event registered) has no number yet.
    client = rng.randrange(max(clients - 1, 1))
    name = f"{client_name(client)} {BRANCHES[index % len(BRANCHES)]}"
    return Channel(f"{index:07d}bCH", f"{client:06d}bCL", status, e164(index), name, changed)


def _channel_row(channel: Channel, index: int) -> tuple:
    quality, previous, limit = "GREEN", None, LIMITS[index % len(LIMITS)]
    if channel.status == "running" and index % RED_EVERY == 0:
        quality, previous = "RED", "GREEN"
    elif channel.status == "running" and index % YELLOW_EVERY == 0:
        quality = "YELLOW"
    stamp = _iso(channel.changed_at)
    return (
        channel.id,
        channel.client_id,
        channel.status,
        "live",
        channel.phone_number,
        channel.phone_name,
        quality,
        previous,
        stamp if previous else None,
        limit,
        "granted",
        stamp,
        stamp,
        "sync",
        f"{channel.client_id}WA",
    )


def _key_rows(vault: KeyVault, channel: Channel, key_id: int, now: datetime) -> tuple[tuple, list[tuple], tuple]:
    """A key made when the channel started running: its row, its readiness steps and its health."""
    secret = f"bench-{channel.id}-{key_id:08d}"
    made = _iso(channel.changed_at + timedelta(minutes=5))
    key = (
        key_id,
        channel.id,
        "demo",
        made,
        "ok",
        "active",
        "app-" + channel.id,
        "https://waba-v2.360dialog.io",
        vault.seal(secret),
        last_four(secret),
    )
    steps = STEPS if key_id % KEY_NOT_READY_EVERY else STEPS[:-1]
    step_rows = [(key_id, step, "ok", "done", made, "demo") for step in steps]
    # Checked within the hour, next due within the next: key health has nothing to do during a run.
    checked = now - timedelta(minutes=key_id % 60)
    health = (
        key_id,
        channel.id,
        "ok",
        "working",
        _iso(checked),
        made,
        0,
        time.time() + KEY_HEALTH_DUE_SECONDS + key_id % 3600,
    )
    return key, step_rows, health


def seed_clients(db: Database, clients: int, now: datetime) -> None:
    first_seen = _iso(now - timedelta(days=EVENT_SPAN_DAYS + 1))
    rows = [(f"{index:06d}bCL", client_name(index), first_seen, first_seen) for index in range(clients - 1)]
    rows.append((f"{clients - 1:06d}bCL", OLD_CLIENT_NAME, first_seen, first_seen))
    db.conn.executemany("insert into clients (id, name, first_seen_at, updated_at) values (?, ?, ?, ?)", rows)


def seed_channels(db: Database, sizes: Sizes, vault: KeyVault, now: datetime) -> list[Channel]:
    """Channels across the funnel, and a key (ready, or one step short) for most running ones."""
    rng = random.Random(27)  # noqa: S311 - synthetic benchmark data, not security
    channels = [_channel(rng, index, sizes.clients, now) for index in range(sizes.channels)]
    db.conn.executemany(
        """
        insert into channels (id, client_id, status, account_mode, phone_number, phone_name, quality_rating,
            previous_quality_rating, quality_changed_at, messaging_limit, permission, status_changed_at, updated_at,
            last_source, waba_id)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [_channel_row(channel, index) for index, channel in enumerate(channels)],
    )
    keys, steps, health = [], [], []
    for channel in channels:
        if channel.status == "running" and rng.random() < KEY_SHARE:
            key, step_rows, health_row = _key_rows(vault, channel, len(keys) + 1, now)
            keys.append(key)
            steps.extend(step_rows)
            health.append(health_row)
    db.conn.executemany(
        "insert into api_keys (id, channel_id, operator, created_at, outcome, status, app_id, address, key_encrypted,"
        " key_last4) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        keys,
    )
    db.conn.executemany(
        "insert into key_steps (key_id, step, status, detail, at, operator) values (?, ?, ?, ?, ?, ?)", steps
    )
    db.conn.executemany(
        "insert into key_health (key_id, channel_id, status, detail, checked_at, changed_at, failures, due_at)"
        " values (?, ?, ?, ?, ?, ?, ?, ?)",
        health,
    )
    return channels


def _event_body(rng: random.Random, name: str, channel: Channel, index: int) -> dict:
    """The event in the shape the sandbox hub sends it (services.sandbox.webhooks)."""
    digits = channel.phone_number[1:]
    body: dict = {"id": f"EV{index:010d}{rng.randrange(16**6):06x}", "event": name}
    if name == "account_violation":
        body["data"] = {"phone_number": digits, "violation_type": "SPAM"}
    elif name == "waba_template_status_changed":
        status = "APPROVED" if rng.random() < 0.9 else "REJECTED"
        body["data"] = {
            "id": f"{channel.client_id}WA",
            "template": {"name": "order_update", "language": "en", "status": status},
        }
    elif name == "phone_number_quality_changed":
        quality = "GREEN" if rng.random() < 0.9 else "YELLOW"
        body["data"] = {
            "id": channel.id,
            "client_id": channel.client_id,
            "current_quality_rating": quality,
            "current_limit": "TIER_1K",
            "setup_info": {"phone_number": channel.phone_number, "phone_name": channel.phone_name},
        }
    elif name == "channel_status_running":
        body["data"] = {
            "id": channel.id,
            "client_id": channel.client_id,
            "setup_info": {"phone_number": channel.phone_number, "phone_name": channel.phone_name},
        }
    elif name == "channel_live":
        body["data"] = {
            "id": channel.id,
            "status": "ready",
            "account_mode": "live",
            "phone_number": digits,
            "phone_name": channel.phone_name,
        }
    else:
        status = {"channel_created": "pending", "channel_submitted": "submitted"}[name]
        body["data"] = {
            "id": channel.id,
            "client_id": channel.client_id,
            "phone_number": digits,
            "phone_name": channel.phone_name,
            "status": status,
            "account_mode": "live",
        }
    return body


def _event_name(rng: random.Random, channel: Channel) -> str:
    if channel.status == "running" and rng.random() < 0.6:
        return _weighted(rng, LATER_EVENTS)
    return ONBOARDING[rng.randrange(STAGE_EVENTS.get(channel.status, 1))]


def _event_row(name: str, body: dict, channel: Channel, received_at: str) -> tuple:
    data = body["data"]
    kind = KIND_BY_EVENT.get(name, "channel_event" if name.startswith("channel_") else "other")
    status = data.get("status") or ("running" if name in IMPLIES_RUNNING else None)
    channel_id = None if kind in ("template", "account_alert") else channel.id
    client_id = data.get("client_id")
    phone_digits = data["phone_number"] if kind == "account_alert" else None
    waba_id = data["id"] if kind == "template" else None
    numbers = written_numbers(body) if "setup_info" in data else None
    return (
        f"id:{body['id']}",
        name,
        kind,
        channel_id,
        client_id,
        status,
        json.dumps(body),
        "{}",
        "ok",
        received_at,
        numbers,
        phone_digits,
        waba_id,
    )


def _old_event(sizes: Sizes, received_at: str) -> tuple:
    client = {"id": f"{sizes.clients - 1:06d}bCL", "name": OLD_CLIENT_NAME, "partner_payload": None}
    body = {"id": "EV0000000000000000", "event": "client_created", "data": client}
    return (
        "id:EV0000000000000000",
        "client_created",
        "client_created",
        None,
        client["id"],
        None,
        json.dumps(body),
        "{}",
        "ok",
        received_at,
        None,
        None,
        None,
    )


def seed_events(db: Database, sizes: Sizes, channels: list[Channel], now: datetime) -> None:
    """`sizes.events` events evenly over EVENT_SPAN_DAYS, oldest first as the receiver stores them; the first is
    OLD_CLIENT_NAME's registration."""
    rng = random.Random(60)  # noqa: S311 - synthetic benchmark data, not security
    start, step = now - timedelta(days=EVENT_SPAN_DAYS), timedelta(days=EVENT_SPAN_DAYS) / max(sizes.events, 1)
    insert = f"insert into events ({_EVENT_COLUMNS}) values ({', '.join('?' * 13)})"  # noqa: S608 - fixed columns
    saved = _set_aside_triggers(db)
    db.conn.execute(insert, _old_event(sizes, _iso(start)))
    for batch_start in range(1, sizes.events, BATCH):
        rows = []
        for index in range(batch_start, min(batch_start + BATCH, sizes.events)):
            channel = channels[rng.randrange(len(channels))]
            name = _event_name(rng, channel)
            rows.append(_event_row(name, _event_body(rng, name, channel, index), channel, _iso(start + step * index)))
        db.conn.executemany(insert, rows)
    for statement in _BUILD_EVENT_INDEXES:
        db.conn.execute(statement)
    for sql in saved:
        db.conn.execute(sql)


def _set_aside_triggers(db: Database) -> list[str]:
    marks = ", ".join("?" * len(_EVENT_INDEX_TRIGGERS))
    saved = [
        row[0]
        for row in db.conn.execute(
            f"select sql from sqlite_master where type = 'trigger' and name in ({marks})",  # noqa: S608 - marks only
            _EVENT_INDEX_TRIGGERS,
        )
    ]
    if len(saved) != len(_EVENT_INDEX_TRIGGERS):
        raise RuntimeError(f"expected the triggers {', '.join(_EVENT_INDEX_TRIGGERS)} on events")
    for name in _EVENT_INDEX_TRIGGERS:
        db.conn.execute(f"drop trigger {name}")
    return saved


def seed_console(folder: Path, sizes: Sizes) -> dict[str, float]:
    """A data folder (console database and demo secrets) holding `sizes`; returns the seconds each part took."""
    vault = KeyVault(load_demo_secrets(folder)["encryption_key"])
    db = open_console_db(folder / CONSOLE_DB)
    now = datetime.now(UTC)
    took: dict[str, float] = {}
    with db.atomic():
        started = time.perf_counter()
        seed_clients(db, sizes.clients, now)
        channels = seed_channels(db, sizes, vault, now)
        took["clients, channels and keys"] = time.perf_counter() - started
        started = time.perf_counter()
        seed_events(db, sizes, channels, now)
        took["events and their indexes"] = time.perf_counter() - started
    db.execute("analyze")
    db.close()
    return took


def _fresh(folder: Path) -> bool:
    database = folder / CONSOLE_DB
    return database.exists() and time.time() - database.stat().st_mtime < CACHE_HOURS * 3600


def cached_seed(sizes: Sizes, cache: Path = CACHE, *, say: bool = True) -> Path:
    """The seeded data folder for `sizes` in the cache, seeded on first use and again once CACHE_HOURS old (into
    a scratch folder, then renamed, so an interrupted seeding is never taken for a finished one)."""
    folder = cache / sizes.folder_name()
    if _fresh(folder):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    scratch = cache / f"{sizes.folder_name()}.seeding"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    took = seed_console(scratch, sizes)
    scratch.rename(folder)
    if say:
        parts = ", ".join(f"{what} {seconds:.1f} s" for what, seconds in took.items())
        print(f"seeded {sizes.channels:,} channels, {sizes.clients:,} clients, {sizes.events:,} events: {parts}")
    return folder


def copy_seed(seeded: Path, data_dir: Path) -> None:
    """A run's own copy of the seeded folder: the cached one never changes."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    source = sqlite3.connect(seeded / CONSOLE_DB)
    target = sqlite3.connect(data_dir / CONSOLE_DB)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    shutil.copy2(seeded / DEMO_SECRETS_FILE, data_dir / DEMO_SECRETS_FILE)
