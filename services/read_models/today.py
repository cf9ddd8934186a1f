"""The day's picture for the home page: the funnel, what needs someone now, the firing alerts, when the last
sync ran, when the last webhook came in, and the last key-health round; each read bounded, so it stays fast."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from services.alerts.ledger import OpenAlert, open_alerts
from services.alerts.rules import last_event_at
from services.channels.sync_runs import SyncRun, last_run
from services.keys.health.reading import HealthRound, last_round
from services.read_models.channel_list import funnel
from services.read_models.workbench import QueueRow, reason_counts, work_queue

TOP_OF_QUEUE = 5
TOP_ALERTS = 5


@dataclass(frozen=True)
class DayPicture:
    funnel: dict[str, int]
    queue_size: int
    reasons: dict[str, int]
    top_of_queue: list[QueueRow]
    alerts: list[OpenAlert]
    last_sync: SyncRun | None
    last_webhook_at: str | None
    key_round: HealthRound | None


def day_picture(db: Database, *, stuck_after_minutes: float, public_url: str) -> DayPicture:
    queue = work_queue(db, stuck_after_minutes=stuck_after_minutes)
    return DayPicture(
        funnel=funnel(db),
        queue_size=len(queue),
        reasons=reason_counts(queue),
        top_of_queue=queue[:TOP_OF_QUEUE],
        alerts=open_alerts(db, public_url, limit=TOP_ALERTS),
        last_sync=last_run(db),
        last_webhook_at=last_event_at(db),
        key_round=last_round(db),
    )
