"""The scheduler's loop against a Partner API mocked with `responses`: a run at start and every interval, failures
recorded and survived, a 429's Retry-After honoured, a busy lease skipped, signals that stop it cleanly."""

from __future__ import annotations

import signal

import pytest
import requests
import responses

from services.channels.sync_runs import recent_runs
from services.onboarding.redirect_store import receive_redirect
from services.scheduler import loop, status
from services.scheduler.loop import Scheduler, Stop
from tests.support.console import use_demo
from tests.support.partner_channels import CHANNELS, hold_lease, paged, remote_channel

INTERVAL = 900.0


class FakeTime:
    """A clock that moves only when the scheduler sleeps; `on_sleep` may act in the middle of a wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep()
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def scheduler(db, api, fake_time) -> Scheduler:
    status.mark_started(db, interval_minutes=INTERVAL / 60)
    return Scheduler(db, api, interval_seconds=INTERVAL, clock=fake_time.clock, sleep=fake_time.sleep)


def test_it_syncs_at_start_then_every_interval(db, scheduler, fake_time) -> None:
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged([remote_channel(1), remote_channel(2)]))
        scheduler.serve(runs=3)
    assert fake_time.sleeps == [INTERVAL, INTERVAL]
    runs = recent_runs(db)
    assert [(run.trigger, run.operator, run.outcome) for run in runs] == [("scheduler", "scheduler", "ok")] * 3
    assert runs[-1].new_channels == 2
    assert status.scheduler_status(db).next_run_at is not None


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"status": 500}, "server_error"),
        ({"status": 502}, "server_error"),
        ({"status": 400, "json": {"meta": {"developer_message": "bad filters"}}}, "bad_request"),
        ({"status": 401}, "unauthorized"),
        ({"status": 403}, "forbidden"),
        ({"status": 404}, "not_found"),
        ({"body": requests.exceptions.ReadTimeout()}, "timeout"),
        ({"body": requests.exceptions.ConnectionError()}, "unreachable"),
        ({"body": "not json", "status": 200}, "bad_response"),
    ],
)
def test_a_failure_is_the_runs_outcome_and_the_loop_goes_on(db, scheduler, fake_time, answer, kind) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, **answer)
        scheduler.serve(runs=2)
    assert fake_time.sleeps == [INTERVAL]
    runs = recent_runs(db)
    assert [(run.outcome, run.error_kind) for run in runs] == [("failed", kind)] * 2
    assert all(run.error for run in runs)
    assert db["sync_lease"].count == 0


@pytest.mark.parametrize(("retry_after", "wait"), [("3600", 3600.0), ("60", INTERVAL), (None, INTERVAL)])
def test_a_429_postpones_the_next_run_as_long_as_it_asks(db, scheduler, fake_time, retry_after, wait) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, status=429, headers={"Retry-After": retry_after} if retry_after else {})
        scheduler.serve(runs=2)
    assert fake_time.sleeps == [wait]
    assert [run.error_kind for run in recent_runs(db)] == ["rate_limited"] * 2


def test_the_next_run_after_a_failure_is_a_normal_one(db, scheduler, fake_time) -> None:
    calls: list[str] = []

    def answer(request):
        calls.append(request.url)
        return (404, {}, "{}") if len(calls) == 1 else paged([remote_channel(1)])(request)

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=answer)
        scheduler.serve(runs=2)
    assert [run.outcome for run in recent_runs(db)] == ["ok", "failed"]


def test_a_busy_lease_skips_the_turn_without_a_run(db, scheduler, fake_time) -> None:
    hold_lease(db)
    scheduler.serve(runs=2)  # no request may leave: responses is not active, so one would fail the run
    assert recent_runs(db) == []
    assert fake_time.sleeps == [INTERVAL]


def test_a_signal_while_waiting_stops_it(db, scheduler, fake_time) -> None:
    fake_time.on_sleep = lambda: scheduler.on_signal(signal.SIGTERM, None)
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged([remote_channel(1)]))
        scheduler.serve()
    assert scheduler.stopping
    assert len(recent_runs(db)) == 1


def test_a_signal_during_a_sync_interrupts_it_and_lets_go_of_the_lease(db, scheduler) -> None:
    channels = [remote_channel(index) for index in range(250)]

    def answer(request):
        if "offset=100" in request.url:
            scheduler.on_signal(signal.SIGINT, None)
        return paged(channels)(request)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=answer)
        scheduler.serve()
    [run] = recent_runs(db)
    assert (run.outcome, run.error_kind, run.seen) == ("interrupted", "interrupted", 100)
    assert db["channels"].count == 100
    assert db["sync_lease"].count == 0


def test_a_second_signal_during_the_clean_up_does_not_cut_it_short(scheduler) -> None:
    scheduler._interruptible = True
    with pytest.raises(Stop):
        scheduler.on_signal(signal.SIGTERM, None)
    scheduler.on_signal(signal.SIGTERM, None)  # only noted
    assert scheduler.stopping


def test_a_signal_outside_a_wait_or_a_sync_stops_it_before_the_next_one(db, scheduler) -> None:
    scheduler.on_signal(signal.SIGTERM, None)
    scheduler.serve()
    assert recent_runs(db) == []


def test_an_unexpected_error_is_recorded_and_survived(db, scheduler, fake_time, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("services.channels.sync_runs.sync_channels", broken)
    scheduler.serve(runs=2)
    runs = recent_runs(db)
    assert [(run.outcome, run.error_kind) for run in runs] == [("failed", "RuntimeError")] * 2
    assert runs[0].error == "unexpected RuntimeError; see the process's log"


# -- the command -----------------------------------------------------------------------------------------


def test_zero_minutes_turns_it_off_and_it_exits_at_once(monkeypatch, data_dir, capsys) -> None:
    use_demo(monkeypatch, data_dir, CONSOLE_SYNC_MINUTES="0", CONSOLE_ALERT_URLS="off")
    assert loop.main() == 0
    assert "automatic sync is off (CONSOLE_SYNC_MINUTES = 0)" in capsys.readouterr().out
    assert not (data_dir / "console.db").exists()


def test_an_alert_url_apprise_cannot_use_stops_it_naming_its_position_not_its_value(
    monkeypatch, data_dir, capsys
) -> None:
    use_demo(monkeypatch, data_dir, CONSOLE_ALERT_URLS="json://127.0.0.1:9/hook nosuchservice://s3cret-token")
    assert loop.main() == 2
    err = capsys.readouterr().err
    assert "CONSOLE_ALERT_URLS: apprise cannot use item 2 (nosuchservice://" in err
    assert "s3cret" not in err
    assert not (data_dir / "console.db").exists()


def test_a_wrong_setting_stops_it_with_its_name(monkeypatch, data_dir, capsys) -> None:
    use_demo(monkeypatch, data_dir, CONSOLE_SYNC_MINUTES="-5")
    assert loop.main() == 2
    assert "scheduler: CONSOLE_SYNC_MINUTES must be at least 0" in capsys.readouterr().err


def test_status_says_when_it_started_and_stopped(db) -> None:
    import os

    assert status.scheduler_status(db) is None
    status.mark_started(db, interval_minutes=15)
    assert status.started(db, os.getpid())
    assert not status.started(db, os.getpid() + 1)
    status.mark_next_run(db, "2026-01-01T00:15:00+00:00")
    assert status.scheduler_status(db).next_run_at == "2026-01-01T00:15:00+00:00"
    status.mark_stopped(db)
    stopped = status.scheduler_status(db)
    assert (stopped.running, stopped.next_run_at) == (False, None)
    assert not status.started(db, os.getpid())


def test_a_next_run_long_past_is_overdue(db) -> None:
    from datetime import UTC, datetime, timedelta

    status.mark_started(db, interval_minutes=15)
    now = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    status.mark_next_run(db, (now - timedelta(minutes=1)).isoformat())
    assert not status.scheduler_status(db).overdue(now)
    status.mark_next_run(db, (now - timedelta(minutes=3)).isoformat())
    assert status.scheduler_status(db).overdue(now)
    status.mark_stopped(db)
    assert not status.scheduler_status(db).overdue(now)


@pytest.mark.parametrize("direct_paid", [True, False])
def test_a_direct_paid_partner_asks_360dialog_about_channels_a_sync_found(db, api, fake_time, direct_paid) -> None:
    scheduler = Scheduler(
        db, api, interval_seconds=INTERVAL, direct_paid=direct_paid, clock=fake_time.clock, sleep=fake_time.sleep
    )
    shared = f"{CHANNELS.rsplit('/channels', 1)[0]}/clients/clCL/shared_client_numbers"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged([remote_channel(1), remote_channel(2)]))
        mocked.get(shared, json={"shared_client_numbers": [{"channel_id": "ch1"}]})
        scheduler.run_once()
        asked = [call for call in mocked.calls if call.request.url.startswith(shared)]
    permissions = {row["id"]: row["permission"] for row in db.query("select id, permission from channels")}
    if direct_paid:
        assert len(asked) == 1
        assert permissions == {"ch1": "granted", "ch2": "not_shared"}
    else:
        assert asked == []
        assert permissions == {"ch1": "unknown", "ch2": "unknown"}


def test_each_run_confirms_at_most_its_budget_of_waiting_redirects(db, api, fake_time) -> None:
    # The landing asks 360dialog nothing: the scheduler asks about what waits, a bounded number a run.
    for number in range(3):
        receive_redirect(db, f"client=cli{number}&channels=[ch{number}]", direct_paid=True)
    scheduler = Scheduler(
        db, api, interval_seconds=INTERVAL, direct_paid=True, redirect_budget=2, clock=fake_time.clock
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(CHANNELS, status=500)  # the sync fails; the confirmations still run
        scheduler.run_once()
        listings = [call for call in mocked.calls if "client_id" in call.request.url]
    verdicts = sorted(row["verdict"] for row in db["redirects"].rows)
    assert verdicts == ["pending", "pending", "pending"]  # 360dialog could not be asked: asked again next run
    assert sorted(row["checked_at"] is not None for row in db["redirects"].rows) == [False, True, True]
    assert len({call.request.url for call in listings}) == 2


def test_between_syncs_it_looks_for_waiting_redirects_every_check_interval(db, api, fake_time) -> None:
    scheduler = Scheduler(
        db,
        api,
        interval_seconds=INTERVAL,
        redirect_budget=5,
        redirect_check_seconds=60,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged([remote_channel(1)]))
        scheduler.serve(runs=2)
    assert fake_time.sleeps == [60.0] * 15
    assert [run.outcome for run in recent_runs(db)] == ["ok", "ok"]
