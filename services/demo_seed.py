"""A realistic partner for demos: about 40 clients and 150 channels over every stage.

Two halves. `seed_sandbox` runs inside the sandbox hub: it writes the clients and channels into the hub's
state and queues each one's history of webhooks (client_created, channel_created, submitted, ready, running,
quality changes) in the outbox, so the receiver gets them signed, as from 360dialog. `load_scenario` runs
in the console: it asks the hub to seed, stores each client's redirect, syncs every channel from the Partner
API and generates keys for some running channels, each through the same services functions the landing
page, the sync and the Channels page use; then it lets the hub release the held webhooks.

`python -m services.demo_seed` loads it into a running demo stack.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services import sandbox_state as state
from services.api_keys import KeyNotAllowed, generate_key
from services.channels import apply_api_channel
from services.partner_api import PartnerApi, PartnerApiError
from services.sandbox_client import SandboxClient, SandboxError
from services.sandbox_demo import store_redirect_query
from services.vault import KeyVault

CLIENT_COUNT = 40
CHANNEL_COUNT = 150
# Share of channels at each stage; the rest are running.
STAGE_WEIGHTS = {"pending": 12, "submitted": 12, "ready": 14, "running": 112}
DOWNGRADED_SHARE = 0.12
REVOKED_COUNT = 4
KEYED_COUNT = 30
STUCK_AFTER_DAYS = 3
FIRST_WORDS = (
    "Alpine", "Blue", "Casa", "Delta", "Evergreen", "Fjord", "Golden", "Harbor", "Indigo", "Juniper", "Kiwi",
    "Lumen", "Maple", "Nordic", "Olive", "Pioneer", "Quartz", "River", "Saffron", "Tidal", "Urban", "Velvet",
)  # fmt: skip
SECOND_WORDS = (
    "Bakery", "Bikes", "Clinic", "Dental", "Fitness", "Florist", "Garage", "Hostel", "Insurance", "Kitchen",
    "Logistics", "Market", "Opticians", "Pharmacy", "Realty", "Salon", "Tailors", "Travel", "Vets", "Wines",
)  # fmt: skip
NUMBER_PREFIXES = ("+49 151", "+49 160", "+44 7700", "+34 612", "+33 612", "+55 11 9", "+31 6", "+39 347")
DOWNGRADES = (("YELLOW", "TIER_250"), ("RED", "TIER_50"), ("YELLOW", "TIER_1K"), ("RED", "TIER_250"))


# -- inside the sandbox hub ------------------------------------------------------------------------
def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _client_sizes(rng: random.Random) -> list[int]:
    # Every client has a number; a few big clients have many (a long-tailed spread).
    sizes = [1] * CLIENT_COUNT
    weights = [rng.paretovariate(1.5) for _ in range(CLIENT_COUNT)]
    for index in rng.choices(range(CLIENT_COUNT), weights=weights, k=CHANNEL_COUNT - CLIENT_COUNT):
        sizes[index] += 1
    return sizes


def _stages(rng: random.Random) -> list[str]:
    stages = [stage for stage, weight in STAGE_WEIGHTS.items() for _ in range(weight)]
    rng.shuffle(stages)
    return stages


def _number(rng: random.Random, used: set[str]) -> str:
    while True:
        number = f"{rng.choice(NUMBER_PREFIXES)} {rng.randrange(1000000, 9999999)}"
        if number not in used:
            used.add(number)
            return number


def _history(
    channel: dict[str, Any], stage: str, created: datetime, rng: random.Random, first_quality: tuple[str, str] | None
) -> list[tuple[datetime, str, dict[str, Any]]]:
    """The webhooks this channel would have sent so far, each with when it happened."""
    before = dict(channel)
    if first_quality:
        before.update(current_quality_rating=first_quality[0], current_limit=first_quality[1])
    events, moment = [], created
    for step in state.CHANNEL_STAGES[: state.CHANNEL_STAGES.index(stage) + 1]:
        events.append((moment, state.STAGE_EVENTS[step], {**before, "status": step}))
        moment += timedelta(minutes=rng.randrange(2, 240))
    if first_quality:
        events.append((moment + timedelta(days=rng.randrange(1, 5)), "phone_number_quality_changed", channel))
    return events


@dataclass
class _Scenario:
    """What seeding has produced so far."""

    rng: random.Random
    now: datetime
    stages: list[str]
    numbers: set[str] = field(default_factory=set)
    timeline: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)
    running_permitted: list[str] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(state.CHANNEL_STAGES, 0))
    counts: dict[str, int] = field(default_factory=lambda: {"downgraded": 0, "revoked": 0, "stuck": 0})


def _seed_client(db: Database, scenario: _Scenario, index: int, size: int) -> None:
    rng = scenario.rng
    client = {
        "id": state.new_id("CL"),
        "name": f"{rng.choice(FIRST_WORDS)} {rng.choice(SECOND_WORDS)}",
        "partner_payload": f"crm-{index + 1:04d}",
    }
    created = scenario.now - timedelta(days=rng.uniform(STUCK_AFTER_DAYS + 1, 45))
    db["clients"].insert({**client, "created_at": _iso(created)})
    scenario.timeline.append((created, "client_created", client))
    granted, revoked = [], []
    for _ in range(size):
        channel_id, permitted = _seed_channel(db, scenario, client, created)
        (granted if permitted else revoked).append(channel_id)
    scenario.redirects.append(state.redirect_query(client["id"], granted, revoked=revoked))


def _seed_channel(
    db: Database, scenario: _Scenario, client: dict[str, Any], client_created: datetime
) -> tuple[str, bool]:
    rng, counts = scenario.rng, scenario.counts
    stage = scenario.stages.pop()
    # Stuck: still short of running days after onboarding. Otherwise onboarded recently, or done.
    stuck = stage != "running" and rng.random() < 0.5
    if stage == "running" or stuck:
        created = client_created + timedelta(hours=rng.uniform(0, 12))
    else:
        created = scenario.now - timedelta(hours=rng.uniform(1, 20))
    downgrade = stage == "running" and rng.random() < DOWNGRADED_SHARE
    quality, limit = rng.choice(DOWNGRADES) if downgrade else ("GREEN", rng.choice(("TIER_1K", "TIER_10K")))
    permitted = not (stage == "running" and counts["revoked"] < REVOKED_COUNT and rng.random() < 0.08)
    channel_id = state.new_id("CH")
    state.insert_channel(
        db,
        channel_id,
        client["id"],
        _number(rng, scenario.numbers),
        client["name"],
        created_at=_iso(created),
        status=stage,
        quality=quality,
        limit=limit,
        permission_granted=permitted,
    )
    db["channels"].update(channel_id, {"modified_at": _iso(min(scenario.now, created + timedelta(days=1)))})
    counts["stuck"] += stuck
    counts["downgraded"] += downgrade
    counts["revoked"] += not permitted
    scenario.by_status[stage] += 1
    if stage == "running" and permitted:
        scenario.running_permitted.append(channel_id)
    channel = state.channel_object(db, db["channels"].get(channel_id))
    scenario.timeline.extend(_history(channel, stage, created, rng, ("GREEN", "TIER_1K") if downgrade else None))
    return channel_id, permitted


def seed_sandbox(db: Database, *, seed: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Add the scenario to the hub's state and queue its webhooks; returns what the console needs next."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    scenario = _Scenario(rng=rng, now=now or datetime.now(UTC), stages=_stages(rng))
    with db.atomic():
        for index, size in enumerate(_client_sizes(rng)):
            _seed_client(db, scenario, index, size)
        scenario.timeline.sort(key=lambda item: item[0])
        # Held until the console has stored the redirects and synced (see load_scenario), so that the
        # receiver's writes do not race the console's.
        for _, event, data in scenario.timeline:
            state.enqueue_event(db, event, data, due_in=state.HELD_SECONDS)
    return {
        "clients": len(scenario.redirects),
        "channels": sum(scenario.by_status.values()),
        "by_status": scenario.by_status,
        **scenario.counts,
        "events": len(scenario.timeline),
        "redirects": scenario.redirects,
        "key_channel_ids": rng.sample(scenario.running_permitted, min(KEYED_COUNT, len(scenario.running_permitted))),
    }


# -- in the console ------------------------------------------------------------------------------------
@dataclass
class ScenarioResult:
    clients: int
    channels: int
    events_queued: int
    redirects_stored: int
    channels_synced: int
    keys_generated: int
    key_failures: list[str] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)


def sync_channels(db: Database, api: PartnerApi) -> int:
    """Bring every channel in from the Partner API, as the console's sync does."""
    synced = 0
    for channel, _total in api.iter_channels():
        with db.atomic():
            apply_api_channel(db, channel)
        synced += 1
    return synced


def load_scenario(
    db: Database, api: PartnerApi, vault: KeyVault, sandbox: SandboxClient, *, operator: str, seed: int | None = None
) -> ScenarioResult:
    """Seed the hub, then let the console catch up: redirects, a sync, and some keys."""
    scenario = sandbox.seed(seed)
    try:
        for query in scenario["redirects"]:
            store_redirect_query(db, query)
        synced = sync_channels(db, api)
        keys, failures = 0, []
        for channel_id in scenario["key_channel_ids"]:
            # The write lock is taken first, so webhooks landing meanwhile (an earlier load's) make this wait
            # instead of failing; a refused key is recorded and committed like any other attempt.
            with db.atomic():
                try:
                    generate_key(db, api, vault, channel_id, operator=operator)
                except (KeyNotAllowed, PartnerApiError) as error:
                    failures.append(f"{channel_id}: {error}")
                else:
                    keys += 1
    finally:
        sandbox.release_webhooks()
    return ScenarioResult(
        clients=scenario["clients"],
        channels=scenario["channels"],
        events_queued=scenario["events"],
        redirects_stored=len(scenario["redirects"]),
        channels_synced=synced,
        keys_generated=keys,
        key_failures=failures,
        by_status=scenario["by_status"],
    )


def main(argv: list[str] | None = None) -> int:
    from services.settings import SettingsError, load_settings
    from services.store import open_console_db

    parser = argparse.ArgumentParser(description="Load the realistic demo scenario into a running demo stack.")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for the same scenario every time")
    parser.add_argument("--reset", action="store_true", help="reset the demo (hub and console) first")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        sandbox = SandboxClient.from_settings(settings)
    except (SettingsError, SandboxError) as error:
        print(f"demo_seed: {error}", file=sys.stderr)
        return 2
    api = PartnerApi(
        settings.api_base_url,
        settings.partner_id,
        api_key=settings.partner_api_key,
        timeout=settings.http_timeout_seconds,
    )
    db = open_console_db(settings.console_db_path)
    try:
        if args.reset:
            from services.sandbox_demo import reset_demo

            reset_demo(db, sandbox)
        result = load_scenario(
            db, api, KeyVault(settings.encryption_key), sandbox, operator=settings.operator, seed=args.seed
        )
    except (SandboxError, PartnerApiError) as error:
        print(f"demo_seed: {error}", file=sys.stderr)
        return 1
    finally:
        db.close()
        api.close()
        sandbox.close()
    print(
        f"Loaded {result.clients} clients and {result.channels} channels {result.by_status}; "
        f"{result.events_queued} webhooks queued, {result.channels_synced} channels synced, "
        f"{result.keys_generated} keys generated, {len(result.key_failures)} key failures."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
