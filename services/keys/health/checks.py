"""One key-health round: enrol the active keys not yet followed, lease the ones due (at most the budget), ask
360dialog's `health_status` with each, and record what changed.

A 401 or 403 means the key stopped working: the client may have generated its own key or withdrawn the
partner's permission in its 360dialog hub (contract section 7; no event says so). A check that could not be made
(timeout, refused connection, 5xx, 429, an answer that is not one) is "could not check": the key keeps its last
verdict and is asked again soon, later after each failure and never before a 429's Retry-After.

Each key's first check falls at a point of the interval its id decides, so 10,000 keys are not all due in the
same second; after a check, the next is one interval later. A lease row claimed in one write transaction keeps
two checkers (two processes, or a round and a manual check) from asking about the same key at once.

The stored key is decrypted in the worker that asks, only for that call, and never logged.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.keys.key_api import KeyDestination, open_key_api
from services.keys.key_status import STOPPED_MEANING
from services.keys.readiness import KeyNotReady
from services.keys.vault import KeyVault, VaultError
from services.messaging_api import MessagingApiError
from services.settings import Settings

UNCHECKED, OK, LIMITED, BLOCKED, STOPPED = "unchecked", "ok", "limited", "blocked", "stopped"
COULD_NOT_CHECK = "could_not_check"
VERDICT_BY_VALUE = {"AVAILABLE": OK, "LIMITED": LIMITED, "BLOCKED": BLOCKED}
# The Messaging API's answers that say the key itself no longer opens it.
STOPPED_KINDS = ("refused_key", "forbidden")
AUDIT_ACTION = "key_health"
MANUAL_ACTION = "check_key_health"
ACTOR = "key health"
# A key that could not be checked is asked again after this, doubled per failure, at most one interval later.
RETRY_FIRST_SECONDS = 30.0
ROUNDS_KEPT = 500
WORKERS = 4
# Knuth's multiplicative hash spreads consecutive key ids evenly over the interval, the same on every start.
SPREAD_MULTIPLIER = 2_654_435_761
SPREAD_MODULUS = 1_000_003

# Active keys of channels that have not ended and whose permission was not withdrawn (as readiness reads them).
OPEN_KEYS_SQL = """
    select k.id as key_id, k.channel_id from api_keys k
    join channels c on c.id = k.channel_id and c.revoked = 0 and c.ended is null
    where k.status = 'active'
"""
NOT_FOLLOWED = "not exists (select 1 from key_health h where h.key_id = o.key_id)"
# Keys whose check is due and that nobody holds a lease on (:now is the moment asked about).
DUE_SQL = f"""
    select h.key_id, h.due_at from key_health h join ({OPEN_KEYS_SQL}) o on o.key_id = h.key_id
    where h.due_at <= :now and (h.lease_until is null or h.lease_until <= :now)
"""  # noqa: S608 - fixed SQL of our own


@dataclass(frozen=True)
class HealthConfig(KeyDestination):
    interval_seconds: float
    budget: int = 50
    workers: int = WORKERS

    @property
    def lease_seconds(self) -> float:
        """Long enough for every check of a full round to time out in turn on each worker, and some."""
        return self.timeout * (math.ceil(self.budget / self.workers) + 1) + 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthConfig:
        return cls(
            interval_seconds=settings.key_health.minutes * 60,
            budget=settings.key_health.budget,
            **KeyDestination.settings_fields(settings),
        )


@dataclass(frozen=True)
class Outcome:
    """What one check found: a verdict (ok, limited, blocked, stopped) or could_not_check, in our words."""

    status: str
    detail: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Change:
    key_id: int
    channel_id: str
    before: str
    after: str


@dataclass(frozen=True)
class HealthRound:
    """One round as it is recorded: when it ran and what it counted."""

    started_at: str
    finished_at: str
    checked: int
    stopped: int
    could_not_check: int
    still_due: int


@dataclass(frozen=True)
class RoundReport(HealthRound):
    """A round just run: what is recorded of it, and each key whose verdict changed."""

    changes: list[Change] = field(default_factory=list)


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")


def holder_name() -> str:
    """Who holds a lease: this process on this machine (a thread of it never competes with itself)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def spread_offset(key_id: int, interval_seconds: float) -> float:
    """Where in the interval a key's checks fall: stable per key, evenly spread over consecutive ids."""
    return (key_id * SPREAD_MULTIPLIER % SPREAD_MODULUS) / SPREAD_MODULUS * interval_seconds


def enrol_keys(db: Database, interval_seconds: float, now: float) -> int:
    """Follow every open active key that has no health row yet, its first check at its point of the interval.
    A key made and checked a moment ago (services.keys.readiness) waits its turn like the others."""
    # Read first: most rounds find nothing new, and need not take the write lock the receiver wants.
    if not db.execute(f"select 1 from ({OPEN_KEYS_SQL}) o where {NOT_FOLLOWED} limit 1").fetchone():  # noqa: S608
        return 0
    with db.atomic():
        cursor = db.execute(
            f"""
            insert into key_health (key_id, channel_id, status, failures, due_at)
            select o.key_id, o.channel_id, '{UNCHECKED}', 0,
                   :now + (o.key_id * {SPREAD_MULTIPLIER} % {SPREAD_MODULUS}) * :interval / {SPREAD_MODULUS}.0
            from ({OPEN_KEYS_SQL}) o where {NOT_FOLLOWED}
            """,  # noqa: S608 - fixed SQL of our own
            {"now": now, "interval": interval_seconds},
        )
        return cursor.rowcount


def claim_due(db: Database, holder: str, now: float, budget: int, lease_seconds: float) -> list[dict[str, Any]]:
    """Lease up to `budget` due keys, the longest due first, in one write transaction: a key leased by anyone
    else (until its lease runs out) is not taken. Returns each leased key's row, sealed key included."""
    if not db.execute(f"{DUE_SQL} limit 1", {"now": now}).fetchone():
        return []  # nothing due: no write lock taken
    with db.atomic():
        claimed = db.execute(
            f"""
            update key_health set lease_holder = :holder, lease_until = :until
            where key_id in (select key_id from ({DUE_SQL}) order by due_at limit :budget)
            returning key_id
            """,  # noqa: S608 - fixed SQL of our own
            {"holder": holder, "until": now + lease_seconds, "now": now, "budget": budget},
        ).fetchall()
    return _leased_keys(db, [row[0] for row in claimed])


def claim_key(db: Database, key_id: int, holder: str, now: float, lease_seconds: float) -> list[dict[str, Any]]:
    """Lease one key now, due or not (a check an operator asks for); empty when someone else holds it, or when
    the key is not an open active key."""
    with db.atomic():
        db.execute(
            f"""
            insert into key_health (key_id, channel_id, status, failures, due_at)
            select o.key_id, o.channel_id, '{UNCHECKED}', 0, :now from ({OPEN_KEYS_SQL}) o
            where o.key_id = :key_id and {NOT_FOLLOWED}
            """,  # noqa: S608 - fixed SQL of our own
            {"now": now, "key_id": key_id},
        )
        claimed = db.execute(
            f"""
            update key_health set lease_holder = :holder, lease_until = :until
            where key_id = :key_id and key_id in (select key_id from ({OPEN_KEYS_SQL}))
              and (lease_until is null or lease_until <= :now)
            returning key_id
            """,  # noqa: S608 - fixed SQL of our own
            {"holder": holder, "until": now + lease_seconds, "now": now, "key_id": key_id},
        ).fetchall()
    return _leased_keys(db, [row[0] for row in claimed])


def _leased_keys(db: Database, key_ids: list[int]) -> list[dict[str, Any]]:
    if not key_ids:
        return []
    marks = ", ".join("?" for _ in key_ids)
    return list(
        db.query(
            f"""
            select h.key_id, h.channel_id, h.status, h.failures, k.address, k.key_encrypted, k.key_last4
            from key_health h join api_keys k on k.id = h.key_id
            where h.key_id in ({marks}) order by h.due_at
            """,  # noqa: S608 - placeholders only
            key_ids,
        )
    )


def stopped_detail(error: MessagingApiError, last4: str | None) -> str:
    said = f": {error.reason}" if error.reason else ""
    key = f"the key ending {last4}" if last4 else "the key"
    return f"360dialog refused {key} ({error.status}){said}; {STOPPED_MEANING}"


def check_key(key: dict[str, Any], vault: KeyVault, config: HealthConfig) -> Outcome:
    """Ask `health_status` with one stored key: one attempt, no retry inside (the next round is the retry)."""
    try:
        api = open_key_api(key, vault, config, retry_reads=False)
    except (VaultError, MessagingApiError) as error:
        return Outcome(COULD_NOT_CHECK, str(error))
    with api:
        try:
            health = api.health_status()
        except MessagingApiError as error:
            if error.kind in STOPPED_KINDS:
                return Outcome(STOPPED, stopped_detail(error, key.get("key_last4")))
            return Outcome(COULD_NOT_CHECK, error.message, error.retry_after)
    return Outcome(VERDICT_BY_VALUE.get(health.can_send_message, OK), health.summary())


def _retry_wait(failures: int, outcome: Outcome, interval_seconds: float) -> float:
    backoff = min(interval_seconds, RETRY_FIRST_SECONDS * 2 ** max(0, failures - 1))
    return max(backoff, outcome.retry_after or 0.0)


def record_outcome(
    db: Database, key: dict[str, Any], outcome: Outcome, *, holder: str, now: float, interval_seconds: float
) -> Change | None:
    """Write one check's result and release the lease (if still ours); inside the caller's transaction. A new
    verdict is a timeline entry (an audit row); the same verdict again, or a failed check, is none."""
    at = iso(now)
    release = "lease_holder = null, lease_until = null"
    if outcome.status == COULD_NOT_CHECK:
        failures = key["failures"] + 1
        db.execute(
            f"""
            update key_health set problem = :problem, problem_at = :at, failures = :failures, due_at = :due,
                {release} where key_id = :key_id and lease_holder = :holder
            """,  # noqa: S608 - fixed fragment
            {
                "problem": outcome.detail,
                "at": at,
                "failures": failures,
                "due": now + _retry_wait(failures, outcome, interval_seconds),
                "key_id": key["key_id"],
                "holder": holder,
            },
        )
        return None
    changed = outcome.status != key["status"]
    written = db.execute(
        f"""
        update key_health set status = :status, detail = :detail, checked_at = :at,
            changed_at = case when :changed then :at else changed_at end,
            problem = null, problem_at = null, failures = 0, due_at = :due, {release}
        where key_id = :key_id and lease_holder = :holder
        """,  # noqa: S608 - fixed fragment
        {
            "status": outcome.status,
            "detail": outcome.detail,
            "at": at,
            "changed": changed,
            "due": now + interval_seconds,
            "key_id": key["key_id"],
            "holder": holder,
        },
    ).rowcount
    # A first check that finds the key working is no news; any other new verdict is.
    if not written or not changed or (key["status"] == UNCHECKED and outcome.status == OK):
        return None
    audit.record(
        db,
        operator=ACTOR,
        action=AUDIT_ACTION,
        channel_id=key["channel_id"],
        outcome=outcome.status,
        detail=outcome.detail,
    )
    return Change(key["key_id"], key["channel_id"], key["status"], outcome.status)


def _still_due(db: Database, now: float) -> int:
    return db.execute(f"select count(*) from ({DUE_SQL})", {"now": now}).fetchone()[0]  # noqa: S608


def _ask_all(
    keys: list[dict[str, Any]], vault: KeyVault, config: HealthConfig, should_stop: Callable[[], bool]
) -> list[tuple[dict[str, Any], Outcome]]:
    """Each leased key asked once, a few at a time; a stop asked for skips the checks not yet begun (their
    leases run out, and the next round takes them)."""

    def ask(key: dict[str, Any]) -> Outcome | None:
        return None if should_stop() else check_key(key, vault, config)

    with ThreadPoolExecutor(
        max_workers=max(1, min(config.workers, len(keys))), thread_name_prefix="key-health"
    ) as pool:
        outcomes = list(pool.map(ask, keys))
    return [(key, outcome) for key, outcome in zip(keys, outcomes, strict=True) if outcome is not None]


def check_leased(
    db: Database,
    vault: KeyVault,
    config: HealthConfig,
    keys: list[dict[str, Any]],
    *,
    holder: str,
    clock: Callable[[], float],
    should_stop: Callable[[], bool] = lambda: False,
) -> list[tuple[dict[str, Any], Outcome, Change | None]]:
    """Ask about keys this holder leased and record every answer in one transaction."""
    if not keys:
        return []
    answered = _ask_all(keys, vault, config, should_stop)
    now = clock()
    with db.atomic():
        return [
            (
                key,
                outcome,
                record_outcome(db, key, outcome, holder=holder, now=now, interval_seconds=config.interval_seconds),
            )
            for key, outcome in answered
        ]


def run_round(
    db: Database,
    vault: KeyVault,
    config: HealthConfig,
    *,
    holder: str | None = None,
    clock: Callable[[], float] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> RoundReport:
    """Enrol new keys, lease and ask the due ones (at most the budget), record the round when it did anything."""
    clock = clock or time.time
    holder = holder or holder_name()
    started = clock()
    enrol_keys(db, config.interval_seconds, started)
    keys = claim_due(db, holder, started, config.budget, config.lease_seconds)
    results = check_leased(db, vault, config, keys, holder=holder, clock=clock, should_stop=should_stop)
    finished = clock()
    report = RoundReport(
        iso(started),
        iso(finished),
        checked=len(results),
        stopped=sum(1 for _, outcome, _ in results if outcome.status == STOPPED),
        could_not_check=sum(1 for _, outcome, _ in results if outcome.status == COULD_NOT_CHECK),
        still_due=_still_due(db, finished),
        changes=[change for _, _, change in results if change is not None],
    )
    if keys or report.still_due:
        _record_round(db, report, holder)
    return report


def check_now(
    db: Database, vault: KeyVault, config: HealthConfig, key_id: int, *, clock: Callable[[], float] | None = None
) -> Outcome | None:
    """Check one key at once (an operator's check); None when a round holds its lease right now."""
    clock = clock or time.time
    holder = f"{holder_name()}:now"
    keys = claim_key(db, key_id, holder, clock(), config.lease_seconds)
    results = check_leased(db, vault, config, keys, holder=holder, clock=clock)
    return results[0][1] if results else None


def check_channel_key(
    db: Database,
    vault: KeyVault,
    config: HealthConfig,
    channel_id: str,
    *,
    actor: Person,
    clock: Callable[[], float] | None = None,
) -> Outcome | None:
    """An operator's check of the channel's active key, at once and audited. Raises NotAllowed (audited) when the
    actor's role may not, KeyNotReady when the channel has no active key. None when the key was not checked:
    another check of it is under way, or its channel ended or was withdrawn."""
    enforce(db, actor, "prepare_key", channel_id=channel_id)
    row = db.execute(
        "select id from api_keys where channel_id = ? and status = 'active' order by id desc limit 1", [channel_id]
    ).fetchone()
    if row is None:
        raise KeyNotReady("the channel has no active key: generate one first")
    outcome = check_now(db, vault, config, row[0], clock=clock)
    if outcome is not None:
        label = "could not check" if outcome.status == COULD_NOT_CHECK else outcome.status
        audit.record(
            db, **audit_fields(actor), action=MANUAL_ACTION, channel_id=channel_id, outcome=label, detail=outcome.detail
        )
    return outcome


def _record_round(db: Database, report: RoundReport, holder: str) -> None:
    with db.atomic():
        db.execute(
            """
            insert into key_health_rounds (holder, started_at, finished_at, checked, stopped, could_not_check,
                still_due) values (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                holder,
                report.started_at,
                report.finished_at,
                report.checked,
                report.stopped,
                report.could_not_check,
                report.still_due,
            ],
        )
        db.execute(
            "delete from key_health_rounds where id <= (select max(id) from key_health_rounds) - ?", [ROUNDS_KEPT]
        )
