"""The key-health process: a round every CONSOLE_KEY_HEALTH_ROUND_SECONDS, each asking about the keys that are due
(at most CONSOLE_KEY_HEALTH_BUDGET), so that every active key is asked once per CONSOLE_KEY_HEALTH_MINUTES.

It is the only long-running process besides the console that holds the key-encryption key, and it holds nothing
else: no Partner API credentials, no Platform Secret, no alert destination (the scheduler alerts on what it
records). A failed round is logged and the next one comes on time. SIGTERM or SIGINT stops it: checks not begun
are skipped, the ones under way finish and are recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from sqlite_utils import Database

from services.keys.health import status
from services.keys.health.checks import HealthConfig, RoundReport, run_round
from services.keys.vault import KeyVault
from services.process_state import process_settings, stop_signals_to
from services.settings import Settings
from services.store import open_console_db

log = logging.getLogger("key_health")


class KeyHealthLoop:
    def __init__(
        self,
        db: Database,
        vault: KeyVault,
        config: HealthConfig,
        *,
        round_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.vault = vault
        self.config = config
        self.round_seconds = round_seconds
        self._clock = clock
        self._stop = threading.Event()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> RoundReport | None:
        try:
            report = run_round(self.db, self.vault, self.config, clock=self._clock, should_stop=self._stop.is_set)
        except Exception as error:  # noqa: BLE001 - the next round tries again; the loop must go on
            log.error("key health round failed: %s", type(error).__name__)
            return None
        for change in report.changes:
            # Channel ids and verdicts only: a detail may quote 360dialog, and a key is never logged.
            log.info("key %d of channel %s: %s -> %s", change.key_id, change.channel_id, change.before, change.after)
        if report.checked:
            log.info(
                "key health round: %d checked, %d stopped, %d could not be checked, %d still due",
                report.checked,
                report.stopped,
                report.could_not_check,
                report.still_due,
            )
        return report

    def serve(self, *, rounds: int | None = None) -> None:
        """A round now, then one every round_seconds, until stopped (or `rounds` rounds are done, for tests)."""
        done = 0
        while not self._stop.is_set() and (rounds is None or done < rounds):
            self.run_once()
            done += 1
            when = datetime.now(UTC) + timedelta(seconds=self.round_seconds)
            status.mark_next_round(self.db, when.isoformat(timespec="microseconds"))
            if rounds is None or done < rounds:
                self._stop.wait(self.round_seconds)
        log.info("stopping")


def main() -> int:
    settings = process_settings("key_health", "key health")
    if settings is None:
        return 2
    if not settings.key_health.enabled:
        print("key health: checks are off (CONSOLE_KEY_HEALTH_MINUTES = 0); nothing to do", flush=True)
        return 0
    return run(settings)


def run(settings: Settings) -> int:
    db = open_console_db(settings.console_db_path)
    loop = KeyHealthLoop(
        db,
        KeyVault(settings.encryption_key),
        HealthConfig.from_settings(settings),
        round_seconds=settings.key_health.round_seconds,
    )
    try:
        with stop_signals_to(loop.on_signal):
            status.mark_started(db, interval_minutes=settings.key_health.minutes)
            log.info(
                "checking every active key every %g min, up to %d a round every %g s",
                settings.key_health.minutes,
                settings.key_health.budget,
                settings.key_health.round_seconds,
            )
            loop.serve()
            return 0
    finally:
        status.mark_stopped(db)
        db.close()
