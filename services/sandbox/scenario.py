"""A realistic partner inside the hub: about 40 clients and 150 channels over every stage.

`seed_sandbox` writes the clients and channels into the hub's state and queues each one's history of
webhooks in the outbox, held until the console asks for their release, so the receiver gets them signed, as
from 360dialog: client_created, channel_created, channel_submitted, channel_ready or channel_live (which says
ready), channel_running (now and then channel_status_running instead, or both), quality changes; and a few
account violations and restrictions (one for a number no channel has), template decisions on clients' WABAs (one
of them a rejection), one number cancelled (cancellation_request, then cancellation_processed with
terminated_at), and one business portfolio whose messaging limit Meta lowered (a quality event per number, the
limit written as a number), each in its recorded shape (services.sandbox.webhooks). One keyed channel is named
for the console's half to have its client regenerate the key in the hub once the console holds one.

Times are those of a partner seen mid-flight: each channel's `modified_at` is when it last changed (reached its
stage, or had its quality changed), in the past. Channels stuck short of running got there days ago, so the
console shows them as stuck as soon as it has read them; the ones in progress started less than an hour ago
(the console's default for "stuck"), a few minutes between their steps.

The console's half (redirects, sync, keys) is `services.demo.scenario`; the two meet only over the hub's HTTP
admin API.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.sandbox import outbox, state, webhooks
from services.whatsapp import TEMPLATE_STATUSES

CLIENT_COUNT = 40
CHANNEL_COUNT = 150
# Share of channels at each stage; the rest are running.
STAGE_WEIGHTS = {"pending": 12, "submitted": 12, "ready": 14, "running": 112}
DOWNGRADED_SHARE = 0.12
REVOKED_COUNT = 4
KEYED_COUNT = 30
STUCK_AFTER_DAYS = 3
# Per stage short of running, at least this many channels are stuck; the others, about half, as chance has it.
STUCK_PER_STAGE = 2
# A channel in progress was onboarded this many minutes ago, and took this many minutes per step.
IN_PROGRESS_MINUTES = (10.0, 45.0)
IN_PROGRESS_STEP_MINUTES = (1.0, 4.0)
DONE_STEP_MINUTES = (2.0, 240.0)
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
ACCOUNT_ALERTS = ("account_violation", "account_violation", "account_restriction")
# A number onboarded outside this partner's console: its violation is stored and noted, on no channel.
UNKNOWN_NUMBER = "+31 6 0000000"
TEMPLATE_EVENTS = 6
# The first template decision is a rejection, so the demo always shows one on its numbers.
FIRST_TEMPLATE_STATUS = "rejected"
# A business portfolio's limit as Meta writes it now: raised days ago, lowered hours ago (a drop, one alert).
PORTFOLIO_LIMIT_STEPS = ("10000", "2000")
# Of the running channels told with a running event, the share told with channel_status_running alone, and the
# share told with both names; the rest hear channel_running only.
STATUS_RUNNING_ONLY, BOTH_RUNNING_NAMES = 0.15, 0.2
# A queued webhook: when it happened, its body, and the channel it is about (if any).
Queued = tuple[datetime, dict[str, Any], str | None]


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


def _step_events(step: str, rng: random.Random) -> tuple[str, ...]:
    """The webhook names one stage is told with: each name 360dialog uses for it, in turn."""
    if step == "ready":
        return (rng.choice(("channel_ready", "channel_live")),)
    if step == "running":
        draw = rng.random()
        if draw < STATUS_RUNNING_ONLY:
            return ("channel_status_running",)
        if draw < STATUS_RUNNING_ONLY + BOTH_RUNNING_NAMES:
            return ("channel_running", "channel_status_running")
        return ("channel_running",)
    return (state.STAGE_EVENTS[step],)


def _history(
    db: Database,
    row: dict[str, Any],
    client: dict[str, Any],
    created: datetime,
    rng: random.Random,
    first_quality: tuple[str, str] | None,
    *,
    now: datetime,
    step_minutes: tuple[float, float],
) -> tuple[list[Queued], datetime]:
    """The webhooks this channel would have sent so far, each with when it happened; and when it last changed
    (its modified_at)."""
    events: list[Queued] = []
    moment = changed = created
    for step in state.CHANNEL_STAGES[: state.CHANNEL_STAGES.index(row["status"]) + 1]:
        changed = moment
        for name in _step_events(step, rng):
            events.append((moment, webhooks.onboarding_event(name, row, client, step), row["id"]))
        moment += timedelta(minutes=rng.uniform(*step_minutes))
    if first_quality:
        # A downgraded number: its first rating and tier once it ran, then the drop days later (before now).
        moment = min(moment, now - timedelta(hours=2))
        first = {
            **row,
            "current_quality_rating": first_quality[0],
            "current_limit": first_quality[1],
            "modified_at": _iso(moment),
        }
        events.append((moment, webhooks.quality_changed(db, first), row["id"]))
        changed = min(moment + timedelta(days=rng.randrange(1, 5)), now - timedelta(hours=1))
        events.append((changed, webhooks.quality_changed(db, {**row, "modified_at": _iso(changed)}), row["id"]))
    return events, changed


@dataclass
class _Scenario:
    """What seeding has produced so far."""

    rng: random.Random
    now: datetime
    stages: list[str]
    numbers: set[str] = field(default_factory=set)
    timeline: list[Queued] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)
    running_permitted: list[str] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(state.CHANNEL_STAGES, 0))
    counts: dict[str, int] = field(
        default_factory=lambda: {"downgraded": 0, "revoked": 0, "stuck": 0, "cancelled": 0, "portfolio_limit": 0}
    )
    stuck_by_stage: dict[str, int] = field(default_factory=dict)


def _seed_client(db: Database, scenario: _Scenario, index: int, size: int) -> None:
    rng = scenario.rng
    client = {
        "id": state.new_id("CL"),
        "name": f"{rng.choice(FIRST_WORDS)} {rng.choice(SECOND_WORDS)}",
        "partner_payload": f"crm-{index + 1:04d}",
    }
    created = scenario.now - timedelta(days=rng.uniform(STUCK_AFTER_DAYS + 1, 45))
    client["created_at"] = _iso(created)
    db["clients"].insert(client)
    scenario.timeline.append((created, webhooks.client_created(client), None))
    granted, revoked = [], []
    for _ in range(size):
        channel_id, permitted = _seed_channel(db, scenario, client, created)
        (granted if permitted else revoked).append(channel_id)
    scenario.redirects.append(outbox.redirect_query(client["id"], granted, revoked=revoked))


def _seed_channel(
    db: Database, scenario: _Scenario, client: dict[str, Any], client_created: datetime
) -> tuple[str, bool]:
    rng, counts = scenario.rng, scenario.counts
    stage = scenario.stages.pop()
    # Stuck: still short of running days after onboarding. Otherwise onboarded within the hour, or done.
    stuck_here = scenario.stuck_by_stage.get(stage, 0)
    stuck = stage != "running" and (stuck_here < STUCK_PER_STAGE or rng.random() < 0.5)
    if stage == "running" or stuck:
        created = client_created + timedelta(hours=rng.uniform(0, 12))
        step_minutes = DONE_STEP_MINUTES
    else:
        created = scenario.now - timedelta(minutes=rng.uniform(*IN_PROGRESS_MINUTES))
        step_minutes = IN_PROGRESS_STEP_MINUTES
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
    counts["stuck"] += stuck
    scenario.stuck_by_stage[stage] = stuck_here + stuck
    counts["downgraded"] += downgrade
    counts["revoked"] += not permitted
    scenario.by_status[stage] += 1
    if stage == "running" and permitted:
        scenario.running_permitted.append(channel_id)
    row = db["channels"].get(channel_id)
    first_quality = ("GREEN", "TIER_1K") if downgrade else None
    events, changed = _history(
        db, row, client, created, rng, first_quality, now=scenario.now, step_minutes=step_minutes
    )
    scenario.timeline.extend(events)
    db["channels"].update(channel_id, {"modified_at": _iso(min(changed, scenario.now))})
    return channel_id, permitted


def _account_and_template_events(db: Database, scenario: _Scenario) -> None:
    """A few running numbers flagged or restricted by Meta, one flagged number no channel has, and template
    decisions on the WABAs of running channels: events that name no channel id."""
    rng = scenario.rng
    rows = list(db["channels"].rows_where("status = 'running'", order_by="id"))
    running = [row["id"] for row in rows]
    clients = {row["id"]: row["client_id"] for row in rows}
    for channel_id, event in zip(rng.sample(running, len(ACCOUNT_ALERTS)), ACCOUNT_ALERTS, strict=True):
        number = db["channels"].get(channel_id)["phone_number"]
        moment = scenario.now - timedelta(hours=rng.uniform(1, 48))
        body = webhooks.account_alert(event, number, outbox.VIOLATION_TYPE)
        scenario.timeline.append((moment, body, channel_id))
    moment = scenario.now - timedelta(hours=rng.uniform(1, 48))
    scenario.timeline.append(
        (moment, webhooks.account_alert("account_violation", UNKNOWN_NUMBER, outbox.VIOLATION_TYPE), None)
    )
    for index, channel_id in enumerate(rng.sample(running, TEMPLATE_EVENTS)):
        moment = scenario.now - timedelta(hours=rng.uniform(1, 240))
        status = FIRST_TEMPLATE_STATUS if index == 0 else rng.choice(TEMPLATE_STATUSES)
        body = webhooks.template_status_changed(state.waba_id(clients[channel_id]), status)
        scenario.timeline.append((moment, body, channel_id))


def _cancelled_number(db: Database, scenario: _Scenario) -> None:
    """One running number the client had cancelled: requested a day or more ago, processed half a day later, its
    channel object carrying terminated_at since. It gets no key in the demo."""
    if not scenario.running_permitted:
        return
    channel_id = scenario.rng.choice(scenario.running_permitted)
    scenario.running_permitted.remove(channel_id)
    requested = scenario.now - timedelta(hours=scenario.rng.uniform(24, 72))
    processed = requested + timedelta(hours=12)
    before = db["channels"].get(channel_id)
    db["channels"].update(channel_id, {"terminated_at": _iso(processed), "modified_at": _iso(processed)})
    scenario.timeline.append((requested, webhooks.cancellation("cancellation_request", db, before), channel_id))
    after = db["channels"].get(channel_id)
    scenario.timeline.append((processed, webhooks.cancellation("cancellation_processed", db, after), channel_id))
    scenario.counts["cancelled"] += 1


def _portfolio_candidates(db: Database) -> list[str]:
    """Clients whose numbers all run at their first quality (no downgrade of their own to blur the drop), ended
    by none; the biggest first, so the one alert names several numbers."""
    rows = db.query(
        """select client_id, count(*) as size from channels group by client_id
           having sum(status != 'running' or current_quality_rating != 'GREEN' or terminated_at is not null) = 0
           order by size desc, client_id"""
    )
    return [row["client_id"] for row in rows]


def _portfolio_limit_change(db: Database, scenario: _Scenario) -> None:
    """Meta raised one business portfolio's limit days ago and lowered it hours ago: every number of the client
    takes each limit, told by one quality event per number, the limit written as a number."""
    candidates = _portfolio_candidates(db)
    if not candidates:
        return
    client_id = candidates[0]
    rows = list(db["channels"].rows_where("client_id = ?", [client_id], order_by="created_at, id"))
    raised = scenario.now - timedelta(days=scenario.rng.uniform(2, 5))
    lowered = scenario.now - timedelta(hours=scenario.rng.uniform(2, 12))
    for row in rows:
        for moment, limit in zip((raised, lowered), PORTFOLIO_LIMIT_STEPS, strict=True):
            changed = {**row, "current_limit": limit, "modified_at": _iso(moment)}
            scenario.timeline.append((moment, webhooks.quality_changed(db, changed), row["id"]))
        db["channels"].update(row["id"], {"current_limit": PORTFOLIO_LIMIT_STEPS[-1], "modified_at": _iso(lowered)})
    scenario.counts["portfolio_limit"] += len(rows)


def seed_sandbox(db: Database, *, seed: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Add the scenario to the hub's state and queue its webhooks; returns what the console needs next."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    scenario = _Scenario(rng=rng, now=now or datetime.now(UTC), stages=_stages(rng))
    with db.atomic():
        for index, size in enumerate(_client_sizes(rng)):
            _seed_client(db, scenario, index, size)
        _account_and_template_events(db, scenario)
        _cancelled_number(db, scenario)
        _portfolio_limit_change(db, scenario)
        scenario.timeline.sort(key=lambda item: item[0])
        # Held until the console has stored the redirects and synced (see load_scenario), so that the
        # receiver's writes do not race the console's.
        for _, body, channel_id in scenario.timeline:
            outbox.enqueue(db, body, channel_id=channel_id, due_in=outbox.HELD_SECONDS)
    keyed = rng.sample(scenario.running_permitted, min(KEYED_COUNT, len(scenario.running_permitted)))
    return {
        "clients": len(scenario.redirects),
        "channels": sum(scenario.by_status.values()),
        "by_status": scenario.by_status,
        **scenario.counts,
        "events": len(scenario.timeline),
        "redirects": scenario.redirects,
        "key_channel_ids": keyed,
        # The client of this keyed channel generates its own key in its hub once the console holds one.
        "regenerated_key_channel_ids": keyed[:1],
    }
