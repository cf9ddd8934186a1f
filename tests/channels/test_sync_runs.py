"""One sync at a time across processes (the lease), and each run recorded: trigger, time, outcome, counts."""

from __future__ import annotations

import subprocess
import sys

import pytest
import responses
import sqlite_utils

from services.accounts import system_person
from services.channels import sync_runs
from services.channels.sync_runs import (
    LEASE_NAME,
    SyncBusy,
    current_holder,
    last_run,
    recent_runs,
    run_sync,
)
from services.partner_api import PartnerApiError
from services.read_models.channel_timeline import channel_timeline
from tests.support.mocked_hub import mocked_hub_client
from tests.support.partner_channels import CHANNELS, hold_lease, paged, remote_channel
from tests.support.people import person


def _sync(db, api, channels, **kwargs):
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged(channels))
        return run_sync(db, api, **{"trigger": "operator", "actor": person("alice"), **kwargs})


def test_a_run_is_recorded_with_its_trigger_time_outcome_and_counts(db, api) -> None:
    run, report = _sync(
        db, api, [remote_channel(index) for index in range(150)], trigger="scheduler", actor=system_person("scheduler")
    )
    assert (run.trigger, run.operator, run.outcome, run.error) == ("scheduler", "scheduler", "ok", None)
    assert (run.seen, run.total, run.new_channels, run.changed_channels, run.left_running) == (150, 150, 150, 0, 0)
    assert run.started_at <= run.finished_at
    assert run.duration_seconds >= 0
    assert run.by == "the scheduler"
    assert run.counts() == "150 channels read, 150 new, 0 changed"
    assert report.new_count == 150
    assert last_run(db) == run
    assert db["sync_lease"].count == 0
    assert current_holder(db) is None


def test_a_held_lease_makes_a_second_sync_busy_and_records_nothing(db, api) -> None:
    hold_lease(db)
    with pytest.raises(SyncBusy) as raised:
        run_sync(db, api, trigger="scheduler", actor=person("scheduler"))
    assert raised.value.holder == "bob"
    assert "A sync is already running, started by bob at" in str(raised.value)
    assert db["sync_runs"].count == 0
    assert current_holder(db).holder == "bob"


def test_a_lease_held_on_another_host_is_honoured_until_it_expires(db, api) -> None:
    hold_lease(db, host="another-host", pid=1)
    with pytest.raises(SyncBusy):
        run_sync(db, api, trigger="scheduler", actor=person("scheduler"))
    hold_lease(db, host="another-host", pid=1, expires_in=-1, run_id=7)
    with db.atomic():
        db["sync_runs"].insert(
            {"id": 7, "trigger": "operator", "operator": "bob", "started_at": "t", "outcome": "running"}
        )
    run, _ = _sync(db, api, [remote_channel(1)])
    assert run.outcome == "ok"
    abandoned = db["sync_runs"].get(7)
    assert (abandoned["outcome"], abandoned["error_kind"]) == ("abandoned", "abandoned")


@pytest.mark.processes
def test_a_lease_whose_process_is_gone_is_taken_over_at_once(db, api) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    hold_lease(db, pid=int(finished.stdout))
    run, _ = _sync(db, api, [remote_channel(1)])
    assert run.outcome == "ok"


def test_the_lease_is_renewed_inside_every_page(db, api) -> None:
    expiries: list[str] = []

    def progress(done: int, total: int) -> None:
        expiries.append(next(db.query("select expires_at from sync_lease"))["expires_at"])

    _sync(db, api, [remote_channel(index) for index in range(250)], on_progress=progress)
    assert len(expiries) == 3
    assert expiries == sorted(expiries)
    assert len(set(expiries)) == 3


def test_a_lease_taken_over_under_a_stalled_sync_stops_it_before_its_next_page(db, api) -> None:
    def someone_takes_over(done: int, total: int) -> None:
        with db.atomic():
            db.execute("update sync_lease set token = 'someone-else', holder = 'bob'")

    with pytest.raises(sync_runs.LeaseLost):
        _sync(db, api, [remote_channel(index) for index in range(250)], on_progress=someone_takes_over)
    assert db["channels"].count == 100  # the second page was rolled back with its renewal
    run = last_run(db)
    assert (run.outcome, run.error_kind, run.seen) == ("failed", "lease_lost", 200)
    assert db["sync_lease"].get(LEASE_NAME)["holder"] == "bob"  # not ours to release


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "bad_request"), (401, "unauthorized"), (403, "forbidden"), (404, "not_found"), (429, "rate_limited")],
)
def test_a_partner_api_failure_is_the_runs_outcome_and_is_raised_again(db, status: int, kind: str) -> None:
    api = mocked_hub_client()
    try:
        with responses.RequestsMock() as mocked:
            mocked.get(CHANNELS, status=status, json={"meta": {"developer_message": "no such thing"}})
            with pytest.raises(PartnerApiError) as raised:
                run_sync(db, api, trigger="scheduler", actor=person("scheduler"))
    finally:
        api.close()
    assert raised.value.kind == kind
    run = last_run(db)
    assert (run.outcome, run.error_kind, run.error) == ("failed", kind, raised.value.message)
    assert "partner-key-123456" not in str(list(db.query("select * from sync_runs")))
    assert db["sync_lease"].count == 0


def test_what_was_synced_before_a_failure_is_counted(db, api) -> None:
    channels = [remote_channel(index) for index in range(150)]

    def answer(request):
        return (500, {}, "{}") if "offset=100" in request.url else paged(channels)(request)

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=answer)
        with pytest.raises(PartnerApiError):
            run_sync(db, api, trigger="operator", actor=person("alice"))
    run = last_run(db)
    assert (run.outcome, run.error_kind, run.seen, run.new_channels) == ("failed", "server_error", 100, 100)


def test_a_sync_stopped_from_outside_is_recorded_as_interrupted_and_lets_go(db, api) -> None:
    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _sync(db, api, [remote_channel(index) for index in range(250)], on_progress=stop)
    run = last_run(db)
    assert (run.outcome, run.error_kind) == ("interrupted", "interrupted")
    assert db["sync_lease"].count == 0


def test_a_database_failure_is_recorded_in_words(db, api) -> None:
    def fail(done: int, total: int) -> None:
        raise sqlite_utils.db.sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite_utils.db.sqlite3.OperationalError):
        _sync(db, api, [remote_channel(1)], on_progress=fail)
    run = last_run(db)
    assert (run.outcome, run.error) == ("failed", "the console database failed: database is locked")


def test_an_unknown_trigger_is_refused(db, api) -> None:
    with pytest.raises(ValueError, match="trigger"):
        run_sync(db, api, trigger="cron", actor=person("x"))


def test_recent_runs_are_newest_first(db, api) -> None:
    _sync(db, api, [remote_channel(1)], trigger="scheduler", actor=system_person("scheduler"))
    _sync(db, api, [remote_channel(1, status="ready")], actor=person("alice"))
    runs = recent_runs(db)
    assert [run.by for run in runs] == ["alice", "the scheduler"]
    assert last_run(db, trigger="scheduler").by == "the scheduler"


def test_the_timeline_of_a_changed_channel_names_the_run(db, api) -> None:
    _sync(db, api, [remote_channel(1)], trigger="scheduler", actor=system_person("scheduler"))
    run, _ = _sync(db, api, [remote_channel(1, status="ready")], trigger="scheduler", actor=system_person("scheduler"))
    entries = [entry for entry in channel_timeline(db, "ch1") if entry.what.startswith("the Partner API sync")]
    assert [entry.what for entry in entries] == [
        "the Partner API sync saw it leave running",
        "the Partner API sync found this channel",
    ]
    took = f"{run.duration_seconds:.1f}"
    assert entries[0].detail == f"status: running -> ready · sync run {run.id} by the scheduler: ok in {took} s"
    assert entries[0].who == "scheduler"
