"""The scheduler process: a sync with the Partner API at start, then every CONSOLE_SYNC_MINUTES; and, when
CONSOLE_ALERT_URLS names a destination, an alert round every CONSOLE_ALERT_CHECK_SECONDS in a second loop
(services.scheduler.alerting).

Runs go through services.channels.sync_runs, so they never overlap with an operator's sync (a busy lease
skips this turn) and each is recorded. A failure (timeout, 4xx, 5xx, 429) is the run's recorded outcome and
the loop goes on: the next run comes at the next interval, or later when a 429 asked for a longer wait.
SIGTERM or SIGINT stops it cleanly: while it waits, at once; during a sync, the page under way is rolled back,
the run is recorded as interrupted and the lease released, and the alert loop finishes the send under way. With
CONSOLE_SYNC_MINUTES = 0 it only alerts, and with no alert destination either it exits at once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from sqlite_utils import Database

from services.accounts import system_person
from services.alerts.destinations import check_usable, destinations
from services.channels.permission import refresh_due_permissions
from services.channels.sync_runs import SCHEDULER, SyncBusy, run_sync
from services.onboarding.redirect_decision import confirm_waiting_redirects
from services.partner_api import PartnerApi, PartnerApiError, operator_message
from services.process_state import process_settings, stop_signals_to
from services.scheduler import status
from services.scheduler.alerting import AlertLoop
from services.settings import Settings, SettingsError
from services.store import open_console_db

log = logging.getLogger("scheduler")
# The scheduler acts on its own: as the audit has always named it, with the role it needs.
SCHEDULER_PERSON = system_person(SCHEDULER)


class Stop(BaseException):
    """Raised by the signal handler to end a wait or a sync; BaseException so that no `except Exception`
    in the sync mistakes it for a failure to survive."""


class Scheduler:
    def __init__(
        self,
        db: Database,
        api: PartnerApi,
        *,
        interval_seconds: float,
        direct_paid: bool = False,
        redirect_budget: int = 0,
        redirect_check_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.api = api
        self.interval_seconds = interval_seconds
        # A Direct-Paid partner's key permissions need 360dialog's word: new channels at once, then again with
        # backoff while unsettled and daily once granted (a client may change them in its hub, with no event).
        self.direct_paid = direct_paid
        # Redirects waiting for 360dialog's word: at most this many are asked about a run (0: none).
        self.redirect_budget = redirect_budget
        # Between syncs, how often to look for waiting redirects (0: only with each sync): a client who just
        # came back should not wait a whole sync interval.
        self.redirect_check_seconds = redirect_check_seconds
        self._clock = clock
        self._sleep = sleep
        self.stopping = False
        self._interruptible = False

    # -- one run -----------------------------------------------------------------------------------
    def run_once(self) -> float:
        """Sync once, then confirm waiting redirects; return how long to wait, from now, before the next run
        may start at the earliest (0: the interval alone decides)."""
        delay = self._sync()
        self._confirm_redirects()
        return delay

    def _sync(self) -> float:
        try:
            run, _ = run_sync(self.db, self.api, trigger="scheduler", actor=SCHEDULER_PERSON)
        except SyncBusy as busy:
            log.info("sync skipped: %s", busy)
            return 0.0
        except PartnerApiError as error:
            log.warning("sync failed (%s): %s", error.kind, operator_message(error))
            return error.retry_after or 0.0
        except Exception as error:  # noqa: BLE001 - recorded as the run's outcome; the loop must go on
            log.error("sync failed: %s", type(error).__name__)
            return 0.0
        log.info("sync %s in %.1f s: %s", run.outcome, run.duration_seconds or 0.0, run.counts())
        if self.direct_paid:
            checks = refresh_due_permissions(self.db, self.api, actor=SCHEDULER_PERSON)
            if checks:
                log.info("key permission asked of 360dialog for %d client(s)", len(checks))
        return 0.0

    def _confirm_redirects(self) -> None:
        """Ask 360dialog about the redirects the landing page left pending, within the run's budget: the
        anonymous landing never asks, so a flood of redirects costs at most this many questions a run."""
        if self.redirect_budget <= 0:
            return
        try:
            decisions = confirm_waiting_redirects(
                self.db, self.api, direct_paid=self.direct_paid, budget=self.redirect_budget
            )
        except Exception as error:  # noqa: BLE001 - the redirects stay pending; the loop must go on
            log.error("redirect confirmation failed: %s", type(error).__name__)
            return
        if decisions:
            verdicts = sorted({decision.verdict for decision in decisions})
            log.info("asked 360dialog about %d waiting redirect(s): %s", len(decisions), ", ".join(verdicts))

    # -- the loop ----------------------------------------------------------------------------------
    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self._interruptible:
            self._interruptible = False  # a second signal during the clean-up does not cut it short
            raise Stop

    def _interruptibly(self, action: Callable[..., float | None], *args: float) -> float | None:
        if self.stopping:
            raise Stop
        self._interruptible = True
        try:
            return action(*args)
        finally:
            self._interruptible = False

    def serve(self, *, runs: int | None = None) -> None:
        """Sync now, then every interval, until a signal arrives (or `runs` runs are done, for tests)."""
        done = 0
        next_at = self._clock()
        try:
            while not self.stopping and (runs is None or done < runs):
                wait = next_at - self._clock()
                if wait > 0:
                    self._interruptibly(self._sleep, self._nap(wait))
                    if self._clock() < next_at:
                        self._interruptibly(self._confirm_redirects)
                        continue
                started = self._clock()
                delay = self._interruptibly(self.run_once) or 0.0
                done += 1
                next_at = max(started + self.interval_seconds, self._clock() + delay)
                when = datetime.now(UTC) + timedelta(seconds=max(0.0, next_at - self._clock()))
                status.mark_next_run(self.db, when.isoformat(timespec="microseconds"))
        except Stop:
            log.info("stopping")

    def _nap(self, wait: float) -> float:
        if self.redirect_budget > 0 and self.redirect_check_seconds > 0:
            return min(wait, self.redirect_check_seconds)
        return wait

    def idle(self) -> None:
        """Wait for a signal, only confirming waiting redirects (automatic sync is off; the alert loop runs on
        its own)."""
        try:
            while not self.stopping:
                self._interruptibly(self._sleep, self._nap(3600.0))
                self._interruptibly(self._confirm_redirects)
        except Stop:
            log.info("stopping")


def main() -> int:
    settings = process_settings("scheduler", "scheduler")
    if settings is None:
        return 2
    if settings.sync_minutes <= 0 and not settings.alerts.enabled:
        print(
            "scheduler: automatic sync is off (CONSOLE_SYNC_MINUTES = 0) and no alert destination is set;"
            " nothing to do",
            flush=True,
        )
        return 0
    found = destinations(settings.alerts.urls)
    try:
        check_usable(found)
    except SettingsError as error:
        print(f"scheduler: {error}", file=sys.stderr)
        return 2
    return run(settings)


def run(settings: Settings) -> int:
    db = open_console_db(settings.console_db_path)
    api = PartnerApi.from_settings(settings)
    scheduler = Scheduler(
        db,
        api,
        interval_seconds=settings.sync_minutes * 60,
        direct_paid=settings.direct_paid,
        redirect_budget=settings.redirect_limits.confirmations_per_run,
        redirect_check_seconds=settings.redirect_limits.check_seconds,
    )
    alerts = None
    if settings.alerts.enabled:
        found = destinations(settings.alerts.urls)
        alerts = AlertLoop(settings.console_db_path, settings.alerts, found, settings.public_url)
    try:
        with stop_signals_to(scheduler.on_signal):
            status.mark_started(db, interval_minutes=settings.sync_minutes)
            if alerts is not None:
                labels = ", ".join(destination.label for destination in alerts.destinations)
                log.info("alerting every %g s to %s", settings.alerts.check_seconds, labels)
                alerts.start()
            if settings.sync_minutes > 0:
                log.info("syncing with the Partner API every %g min", settings.sync_minutes)
                scheduler.serve()
            else:
                log.info("automatic sync is off (CONSOLE_SYNC_MINUTES = 0)")
                scheduler.idle()
            return 0
    finally:
        if alerts is not None:
            alerts.stop()
        status.mark_stopped(db)
        api.close()
        db.close()
