"""The scheduler's second loop: an alert round (services.alerts) every CONSOLE_ALERT_CHECK_SECONDS, in a thread
of its own with its own database connection, so that a long sync never holds an alert back.

Stopping lets the send under way finish and be recorded, then ends the thread: a clean stop sends nothing twice.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from services.alerts.destinations import Destination
from services.alerts.rounds import alert_round
from services.alerts.wording import held_line
from services.settings import AlertSettings
from services.store import open_console_db

log = logging.getLogger("scheduler.alerts")
# A send takes at most apprise's timeout; the join waits a little longer than that.
STOP_TIMEOUT_SECONDS = 60.0


class AlertLoop:
    def __init__(
        self, db_path: Path, settings: AlertSettings, destinations: list[Destination], public_url: str
    ) -> None:
        self.db_path = db_path
        self.settings = settings
        self.destinations = destinations
        self.public_url = public_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        db = open_console_db(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    report = alert_round(
                        db, self.settings, self.destinations, self.public_url, should_stop=self._stop.is_set
                    )
                except Exception as error:  # noqa: BLE001 - the next round tries again; the loop must go on
                    log.error("alert round failed: %s: %s", type(error).__name__, error)
                else:
                    changes = report.changes
                    if changes.fired or changes.worsened or changes.resolved or report.outcomes:
                        log.info(
                            "alerts: %d fired, %d got worse, %d resolved, %d messages composed, %d sent, %d failed",
                            changes.fired,
                            changes.worsened,
                            changes.resolved,
                            len(report.messages),
                            report.sent,
                            report.failed,
                        )
                    if report.held is not None and (changes.fired or changes.resolved):
                        held = report.held
                        log.info("alerts: %s", held_line(held.alerts, held.resolutions, held.reason, held.until))
                self._stop.wait(self.settings.check_seconds)
        finally:
            db.close()
