"""One alert round, as the scheduler runs it every CONSOLE_ALERT_CHECK_SECONDS: read the rules from the
database, record what fired and what resolved, compose what is due, and send it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from services.alerts import ledger
from services.alerts.delivery import Outcome, deliver_due
from services.alerts.destinations import Destination
from services.alerts.ledger import Changes, Held, now_utc
from services.alerts.rules import scan_rules
from services.settings import AlertSettings


@dataclass(frozen=True)
class RoundReport:
    changes: Changes
    messages: list[int]
    outcomes: list[Outcome] = field(default_factory=list)
    # What the cap or the digest still holds back, and until when (never a critical alert).
    held: Held | None = None

    @property
    def sent(self) -> int:
        return sum(outcome.sent for outcome in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(not outcome.sent for outcome in self.outcomes)


def alert_round(
    db: Database,
    settings: AlertSettings,
    known: Sequence[Destination],
    public_url: str,
    *,
    clock: Callable[[], datetime] = now_utc,
    should_stop: Callable[[], bool] = lambda: False,
) -> RoundReport:
    now = clock()
    changes = ledger.record_scans(db, scan_rules(db, settings, now), now)
    messages = ledger.compose(db, settings, known, public_url, now)
    held = ledger.held_news(db, settings, now)
    if should_stop():
        return RoundReport(changes, messages, held=held)
    outcomes = deliver_due(db, known, settings, public_url=public_url, clock=clock, should_stop=should_stop)
    return RoundReport(changes, messages, outcomes, held)
