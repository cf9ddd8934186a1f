"""Sending what is due: each delivery claimed, sent through apprise, and its outcome recorded; a failure is tried
again with exponential backoff until CONSOLE_ALERT_MAX_ATTEMPTS, then shown as failed with its reason.

The backoff is tenacity's policy (wait_exponential with jitter, stop_after_attempt), consulted between rounds
rather than slept through: the next try's time is stored, so a retry survives a restart and one slow
destination holds no other back. A delivery is claimed before it is sent (the scheduler and the Alerts page's
test button never send the same one), and its outcome is stored however long the database stays busy, so a
message that went out is not sent again. A process killed in the middle of a send sends that one again once
its claim runs out: at least once, recorded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database
from tenacity import (
    RetryCallState,
    Retrying,
    retry,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
    wait_random_exponential,
)

from services.accounts import Person, enforce
from services.alerts import destinations as sending
from services.alerts import ledger, wording
from services.alerts.destinations import Destination
from services.alerts.ledger import iso, now_utc
from services.settings import AlertSettings
from services.store import is_busy

log = logging.getLogger("alerts")

# A claim outlasts any one send (apprise's own timeouts are shorter); a process that died lets go with it.
CLAIM_SECONDS = sending.SEND_TIMEOUT_SECONDS * 3
MAX_BACKOFF_SECONDS = 3600.0
DELIVERIES_PER_ROUND = 50
GONE = "this destination is no longer in CONSOLE_ALERT_URLS"
# Storing an outcome waits out a busy database this long: a lost "sent" would send the message again.
RECORD_DEADLINE_SECONDS = 300.0


def retry_policy(settings: AlertSettings) -> Retrying:
    """When to try a failed delivery again, and when to give up."""
    return Retrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=wait_exponential(multiplier=settings.retry_seconds, max=MAX_BACKOFF_SECONDS)
        + wait_random(0, settings.retry_seconds / 4),
    )


def next_try_in(policy: Retrying, attempts: int) -> float | None:
    """Seconds until the next try after `attempts` failed ones; None when the policy gives up."""
    state = RetryCallState(policy, fn=None, args=(), kwargs={})
    state.attempt_number = attempts
    if policy.stop(state):
        return None
    return float(policy.wait(state))


@dataclass(frozen=True)
class Claimed:
    id: int
    destination_key: str
    destination: str
    attempts: int
    title: str
    body: str
    level: str


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    destination: str
    error: str | None
    # None once sent or given up; else when the next try is due.
    next_attempt_at: str | None

    @property
    def sent(self) -> bool:
        return self.error is None


@retry(
    retry=retry_if_exception(is_busy),
    stop=stop_after_delay(RECORD_DEADLINE_SECONDS),
    wait=wait_random_exponential(multiplier=0.2, max=5),
    reraise=True,
)
def _claim(db: Database, now: datetime, *, ids: Sequence[int] | None = None, limit: int) -> list[Claimed]:
    at, until = iso(now), iso(now + timedelta(seconds=CLAIM_SECONDS))
    with db.atomic():
        if ids is None:
            rows = list(
                db.query(
                    """
                    select d.id from alert_deliveries d
                    where d.status = 'pending' and d.next_attempt_at <= ?
                      and (d.claimed_until is null or d.claimed_until < ?)
                    order by d.next_attempt_at, d.id limit ?
                    """,
                    [at, at, limit],
                )
            )
            ids = [row["id"] for row in rows]
        claimed = []
        for delivery_id in ids:
            db.execute("update alert_deliveries set claimed_until = ? where id = ?", [until, delivery_id])
            # Read whole (a cursor left open would pin this connection's snapshot and hold the WAL).
            [row] = db.query(
                "select d.id, d.destination_key, d.destination, d.attempts, m.title, m.body, m.level"
                " from alert_deliveries d join alert_messages m on m.id = d.message_id where d.id = ?",
                [delivery_id],
            )
            claimed.append(Claimed(**row))
    return claimed


@retry(
    retry=retry_if_exception(is_busy),
    stop=stop_after_delay(RECORD_DEADLINE_SECONDS),
    wait=wait_random_exponential(multiplier=0.2, max=5),
    reraise=True,
)
def _record(db: Database, claimed: Claimed, error: str | None, retry_in: float | None, now: datetime) -> None:
    at = iso(now)
    with db.atomic():
        if error is None:
            db.execute(
                "update alert_deliveries set status = 'sent', attempts = attempts + 1, sent_at = ?,"
                " last_attempt_at = ?, claimed_until = null where id = ?",
                [at, at, claimed.id],
            )
        elif retry_in is None:
            db.execute(
                "update alert_deliveries set status = 'failed', attempts = attempts + 1, last_error = ?,"
                " last_attempt_at = ?, next_attempt_at = null, claimed_until = null where id = ?",
                [error, at, claimed.id],
            )
        else:
            db.execute(
                "update alert_deliveries set attempts = attempts + 1, last_error = ?, last_attempt_at = ?,"
                " next_attempt_at = ?, claimed_until = null where id = ?",
                [error, at, iso(now + timedelta(seconds=retry_in)), claimed.id],
            )


def _release(db: Database, claimed: Sequence[Claimed]) -> None:
    with db.atomic():
        for item in claimed:
            db.execute("update alert_deliveries set claimed_until = null where id = ?", [item.id])


def _attempt(
    db: Database,
    claimed: Claimed,
    known: Mapping[str, Destination],
    policy: Retrying,
    clock: Callable[[], datetime],
    public_url: str,
) -> Outcome:
    destination = known.get(claimed.destination_key)
    if destination is None:
        error, retry_in = GONE, None
    else:
        error = sending.send(destination, claimed.title, claimed.body, claimed.level, public_url=public_url)
        retry_in = None if error is None else next_try_in(policy, claimed.attempts + 1)
    now = clock()
    _record(db, claimed, error, retry_in, now)
    attempt = claimed.attempts + 1
    if error is None:
        log.info("alert delivery #%d sent to %s (attempt %d)", claimed.id, claimed.destination, attempt)
    elif retry_in is None:
        log.warning(
            "alert delivery #%d to %s failed for good (attempt %d): %s", claimed.id, claimed.destination, attempt, error
        )
    else:
        log.warning(
            "alert delivery #%d to %s failed (attempt %d), next try in %.0f s: %s",
            claimed.id,
            claimed.destination,
            attempt,
            retry_in,
            error,
        )
    next_at = iso(now + timedelta(seconds=retry_in)) if error is not None and retry_in is not None else None
    return Outcome(claimed.id, claimed.destination, error, next_at)


def deliver_due(
    db: Database,
    known: Sequence[Destination],
    settings: AlertSettings,
    *,
    public_url: str,
    clock: Callable[[], datetime] = now_utc,
    should_stop: Callable[[], bool] = lambda: False,
    limit: int = DELIVERIES_PER_ROUND,
) -> list[Outcome]:
    """Send every delivery whose time has come (at most `limit`); stop between two sends when asked. Links under
    `public_url` stay links; everything else in a message is made inert for its destination."""
    claimed = _claim(db, clock(), limit=limit)
    by_key = {destination.key: destination for destination in known}
    policy = retry_policy(settings)
    outcomes = []
    for index, item in enumerate(claimed):
        if should_stop():
            _release(db, claimed[index:])
            break
        outcomes.append(_attempt(db, item, by_key, policy, clock, public_url))
    return outcomes


def send_test_alert(
    db: Database,
    known: Sequence[Destination],
    settings: AlertSettings,
    *,
    actor: Person,
    public_url: str,
    clock: Callable[[], datetime] = now_utc,
) -> list[Outcome]:
    """Queue a test message to every destination and send it now; a failed one is retried like any alert.
    Test messages do not count against the hourly cap. Raises NotAllowed (audited) when the actor's role may
    not send test alerts: nothing is queued or sent."""
    enforce(db, actor, "send_test_alert")
    now = clock()
    text = wording.test_message(actor.id, public_url, iso(now))
    with db.atomic():
        _, delivery_ids = ledger.queue_message(db, text, known, now, notices=0, operator=actor.id)
    claimed = _claim(db, now, ids=delivery_ids, limit=len(delivery_ids))
    by_key = {destination.key: destination for destination in known}
    policy = retry_policy(settings)
    return [_attempt(db, item, by_key, policy, clock, public_url) for item in claimed]
