"""Sync from the Partner API: paging, reconciling, reporting, auditing, failing cleanly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses

from services.channels import sync as sync_module
from services.channels.projection import apply_webhook_event, get_channel, upsert_channel
from services.channels.sync import sync_channels
from services.events.webhook import normalise_event
from services.partner_api import PartnerApiError
from services.read_models.work_queue import left_running, needs_attention, stuck
from tests.support import FIXTURES
from tests.support.partner_channels import CHANNELS, paged, remote_channel
from tests.support.people import person


def test_sync_pages_through_everything_and_reports_changes(db, api) -> None:
    with db.atomic():
        upsert_channel(db, "ch0", {"status": "submitted", "quality_rating": "GREEN"}, source="webhook")
        upsert_channel(
            db,
            "ch1",
            {
                "status": "running",
                "quality_rating": "GREEN",
                "client_id": "clCL",
                "phone_number": "+49 1",
                "phone_name": "Shop",
                "messaging_limit": "TIER_1K",
            },
            source="webhook",
        )
    remote = [remote_channel(0), remote_channel(1), *(remote_channel(index) for index in range(2, 250))]
    remote[1]["current_quality_rating"] = "RED"
    progress: list[tuple[int, int]] = []
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged(remote))
        report = sync_channels(db, api, actor=person("alice"), on_progress=lambda d, t: progress.append((d, t)))
        assert len(mocked.calls) == 3  # 100 + 100 + 50
    assert report.seen == 250
    assert len(report.new_channels) == 248
    changed = {(c.channel_id, c.field, c.before, c.after) for c in report.changes}
    assert ("ch0", "status", "submitted", "running") in changed
    assert ("ch1", "quality_rating", "GREEN", "RED") in changed
    assert report.changed_channels == 2
    assert progress[-1] == (250, 250)
    assert db["channels"].get("ch1")["previous_quality_rating"] == "GREEN"
    run = next(db.query("select * from audit where action = 'sync_channels'"))
    assert run["outcome"] == "ok"
    assert "250 channels read" in run["detail"]
    assert db["audit"].count_where("action = 'sync' and channel_id = 'ch0'") == 1


def test_a_second_sync_reports_nothing_new(db, api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged([remote_channel(1)]))
        sync_channels(db, api, actor=person("alice"))
        again = sync_channels(db, api, actor=person("alice"))
    assert (again.seen, again.new_channels, again.changes) == (1, [], [])


def test_a_failing_page_is_reported_and_audited(db, api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, status=401)
        with pytest.raises(PartnerApiError) as raised:
            sync_channels(db, api, actor=person("alice"))
    assert raised.value.kind == "unauthorized"
    assert next(db.query("select outcome from audit"))["outcome"] == "failed"


# -- the Partner API is authoritative --------------------------------------------------------------------


def _sync(db, api, channels: list[dict], **kwargs):
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged(channels))
        return sync_channels(db, api, actor=person("alice"), **kwargs)


def test_a_step_back_read_by_a_sync_is_applied_recorded_and_flagged(db, api) -> None:
    _sync(db, api, [remote_channel(1, status="running")])
    report = _sync(db, api, [remote_channel(1, status="ready")])
    assert get_channel(db, "ch1")["status"] == "ready"
    assert [(c.field, c.before, c.after) for c in report.changes] == [("status", "running", "ready")]
    assert (report.changed_count, report.left_running, report.left_running_count) == (1, ["ch1"], 1)
    assert "1 left running" in report.summary()
    row = next(db.query("select * from audit where action = 'sync' and channel_id = 'ch1' order by id desc"))
    assert (row["outcome"], row["detail"]) == ("left running", "status: running -> ready")
    channel = get_channel(db, "ch1")
    assert (channel["left_running_to"], channel["left_running_at"]) == ("ready", channel["status_changed_at"])
    [item] = [item for item in needs_attention(db, stuck_after_minutes=60) if item.reason == "left running"]
    assert item.channel_id == "ch1"
    assert item.detail == f"running -> ready, seen by sync at {channel['left_running_at']}"


def test_left_running_stays_flagged_until_running_again(db, api) -> None:
    _sync(db, api, [remote_channel(1, status="running")])
    _sync(db, api, [remote_channel(1, status="ready")])
    flagged_at = get_channel(db, "ch1")["left_running_at"]
    _sync(db, api, [remote_channel(1, status="submitted")])
    [item] = left_running(db)
    assert item.detail == f"running -> ready, seen by sync at {flagged_at}; submitted now"
    _sync(db, api, [remote_channel(1, status="running")])
    channel = get_channel(db, "ch1")
    assert (channel["status"], channel["left_running_at"], channel["left_running_to"]) == ("running", None, None)
    assert left_running(db) == []


def test_a_webhook_that_brings_the_channel_back_to_running_ends_the_flag(db, api) -> None:
    _sync(db, api, [remote_channel(1, status="running")])
    _sync(db, api, [remote_channel(1, status="ready")])
    with db.atomic():
        apply_webhook_event(db, normalise_event({"event": "channel_running", "data": {"id": "ch1"}}))
    assert get_channel(db, "ch1")["status"] == "running"
    assert left_running(db) == []


def test_webhooks_keep_the_no_step_back_rule(db, api) -> None:
    _sync(db, api, [remote_channel(1, status="running")])
    with db.atomic():
        apply_webhook_event(db, normalise_event({"event": "channel_ready", "data": {"id": "ch1", "status": "ready"}}))
    assert get_channel(db, "ch1")["status"] == "running"
    assert left_running(db) == []


def test_a_step_back_between_earlier_stages_is_applied_but_not_flagged(db, api) -> None:
    _sync(db, api, [remote_channel(1, status="ready")])
    report = _sync(db, api, [remote_channel(1, status="submitted")])
    assert get_channel(db, "ch1")["status"] == "submitted"
    assert (report.changed_count, report.left_running_count) == (1, 0)
    assert next(db.query("select outcome from audit where action = 'sync' order by id desc"))["outcome"] == "changed"


def test_a_field_the_api_leaves_out_keeps_its_value(db, api) -> None:
    _sync(db, api, [remote_channel(1)])
    report = _sync(db, api, [{"id": "ch1"}])
    channel = get_channel(db, "ch1")
    assert (channel["status"], channel["phone_number"], channel["quality_rating"]) == ("running", "+49 1", "GREEN")
    assert report.changes == []


# -- one transaction per page ----------------------------------------------------------------------------


def _statements(db) -> list[str]:
    traced: list[str] = []
    db.conn.set_trace_callback(traced.append)
    return traced


def test_one_transaction_and_one_read_per_page_with_its_audit_rows_inside(db, api) -> None:
    traced = _statements(db)
    try:
        _sync(db, api, [remote_channel(index) for index in range(250)])
    finally:
        db.conn.set_trace_callback(None)
    begins = [index for index, sql in enumerate(traced) if sql.strip().upper().startswith("BEGIN")]
    commits = [index for index, sql in enumerate(traced) if sql.strip().upper() == "COMMIT"]
    reads = [index for index, sql in enumerate(traced) if "from channels where id in" in sql]
    audit_writes = [index for index, sql in enumerate(traced) if "insert into audit" in sql and "sync_run_id" in sql]
    # Two more transactions: the run's own audit row, opened and closed.
    assert (len(begins), len(commits)) == (3 + 2, 3 + 2)
    assert len(reads) == 3
    for read in reads:
        begin = max(index for index in begins if index < read)
        commit = min(index for index in commits if index > read)
        assert any(begin < write < commit for write in audit_writes)
    assert db["audit"].count_where("action = 'sync'") == 250


def test_an_unchanged_channel_is_not_written_again(db, api) -> None:
    _sync(db, api, [remote_channel(1), remote_channel(2)])
    before = {row["id"]: row["updated_at"] for row in db.query("select id, updated_at from channels")}
    traced = _statements(db)
    try:
        report = _sync(db, api, [remote_channel(1), remote_channel(2, quality="RED")])
    finally:
        db.conn.set_trace_callback(None)
    after = {row["id"]: row["updated_at"] for row in db.query("select id, updated_at from channels")}
    assert after["ch1"] == before["ch1"]
    assert after["ch2"] != before["ch2"]
    assert report.changed_count == 1
    assert db["audit"].count_where("action = 'sync'") == 2 + 1
    assert not [sql for sql in traced if "insert into clients" in sql]  # the client is as it was


def test_a_page_that_fails_leaves_the_pages_before_it_synced(db, api) -> None:
    channels = [remote_channel(index) for index in range(150)]

    def answer(request):
        if "offset=100" in request.url:
            return 400, {}, "{}"
        return paged(channels)(request)

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=answer)
        with pytest.raises(PartnerApiError) as raised:
            sync_channels(db, api, actor=person("alice"))
    assert raised.value.kind == "bad_request"
    assert db["channels"].count == 100
    run = next(db.query("select * from audit where action = 'sync_channels'"))
    assert (run["outcome"], run["detail"]) == ("failed", "after 100 channels: PartnerApiError")


def test_progress_is_reported_per_page(db, api) -> None:
    progress: list[tuple[int, int]] = []
    _sync(db, api, [remote_channel(index) for index in range(250)], on_progress=lambda d, t: progress.append((d, t)))
    assert progress == [(100, 250), (200, 250), (250, 250)]


def test_the_report_names_the_first_channels_and_counts_them_all(db, api, monkeypatch) -> None:
    monkeypatch.setattr(sync_module, "REPORT_LIMIT", 5)
    report = _sync(db, api, [remote_channel(index) for index in range(12)])
    assert (report.new_count, len(report.new_channels), report.truncated) == (12, 5, True)
    report = _sync(db, api, [remote_channel(index, quality="RED") for index in range(12)])
    assert (report.changed_count, len({c.channel_id for c in report.changes}), report.truncated) == (12, 5, True)
    assert db["audit"].count_where("action = 'sync' and outcome = 'changed'") == 12


def test_audit_rows_carry_the_run_they_belong_to(db, api) -> None:
    _sync(db, api, [remote_channel(1)], run_id=41)
    assert next(db.query("select sync_run_id from audit where action = 'sync'"))["sync_run_id"] == 41


def test_a_hook_runs_inside_each_page_transaction(db, api) -> None:
    seen: list[bool] = []
    _sync(
        db,
        api,
        [remote_channel(index) for index in range(150)],
        in_each_page=lambda d: seen.append(d.conn.in_transaction),
    )
    assert seen == [True, True]


def test_channel_objects_that_name_no_channel_are_passed_over(db, api) -> None:
    report = _sync(db, api, [{"status": "running"}, {"id": 7}, "text", remote_channel(1)])
    assert report.seen == 4
    assert report.new_channels == ["ch1"]
    assert db["channels"].count == 1


def test_values_of_an_unexpected_type_are_read_as_unknown_or_as_text(db, api) -> None:
    channel = {**remote_channel(1), "current_limit": 1000, "current_quality_rating": {"value": "GREEN"}}
    _sync(db, api, [channel])
    row = get_channel(db, "ch1")
    assert (row["messaging_limit"], row["quality_rating"]) == ("1000", None)


# -- recorded shapes (tests/fixtures/360dialog/channel_lists.json) ---------------------------------------

RECORDED_LISTS = json.loads((FIXTURES / "360dialog" / "channel_lists.json").read_text())


@pytest.mark.parametrize("recorded", RECORDED_LISTS, ids=[item["name"] for item in RECORDED_LISTS])
def test_a_recorded_list_answer_is_read_as_the_contract_says(db, api, recorded: dict) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, json=recorded["body"])
        report = sync_channels(db, api, actor=person("alice"))
    assert report.seen == len(recorded["expect"])
    for channel_id, expected in recorded["expect"].items():
        row = get_channel(db, channel_id)
        assert {name: row[name] for name in expected} == expected
    client = db["clients"].get(recorded["client"]["id"])
    assert {name: client[name] for name in recorded["client"]} == recorded["client"]


def test_the_recorded_ready_steps_back_a_channel_a_channel_live_event_left_running(db, api) -> None:
    running, ready = RECORDED_LISTS
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, json=running["body"])
        sync_channels(db, api, actor=person("alice"))
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, json=ready["body"])
        report = sync_channels(db, api, actor=person("scheduler"))
    assert report.left_running == ["tlbN64CH"]
    changed = {(c.field, c.before, c.after) for c in report.changes}
    assert changed == {
        ("status", "running", "ready"),
        ("quality_rating", "GREEN", "YELLOW"),
        ("messaging_limit", "TIER_1K", "TIER_250"),
    }
    channel = get_channel(db, "tlbN64CH")
    assert (channel["previous_quality_rating"], channel["previous_messaging_limit"]) == ("GREEN", "TIER_1K")
    assert [item.channel_id for item in left_running(db)] == ["tlbN64CH"]


def test_a_channel_first_seen_by_a_sync_gets_the_rows_defaults(db, api) -> None:
    _sync(db, api, [remote_channel(1), {"id": "bare"}])
    channel = get_channel(db, "ch1")
    assert (channel["status"], channel["client_id"], channel["phone_name"]) == ("running", "clCL", "Shop")
    assert (channel["permission"], channel["revoked"], channel["last_source"]) == ("unknown", 0, "partner_api")
    assert channel["status_changed_at"] == channel["updated_at"]
    assert channel["left_running_at"] is None
    bare = get_channel(db, "bare")
    assert (bare["status"], bare["status_changed_at"], bare["updated_at"]) == (None, None, channel["updated_at"])
    assert db["channel_stages"].get("running")["channels"] == 1


# -- when a status began: the channel's modified_at, when the API gives one in the past ------------------


def _at(channel: dict, modified_at: object) -> dict:
    return {**channel, "modified_at": modified_at}


def test_a_channel_first_seen_stuck_shows_as_stuck_at_once(db, api) -> None:
    # The old behaviour: a channel pending for days was "in status for 0 min" after its first sync.
    days_ago = datetime.now(UTC) - timedelta(days=3)
    _sync(db, api, [_at(remote_channel(1, status="submitted"), days_ago.isoformat().replace("+00:00", "Z"))])
    channel = get_channel(db, "ch1")
    assert channel["status_changed_at"] == days_ago.isoformat(timespec="microseconds")
    assert channel["updated_at"] > channel["status_changed_at"]
    assert [item.channel_id for item in stuck(db, 60)] == ["ch1"]


@pytest.mark.parametrize(
    "modified_at",
    [None, "not a time", "2025-11-03T09:40:02", 1762162802, (datetime.now(UTC) + timedelta(days=1)).isoformat()],
    ids=["missing", "unreadable", "no zone", "a number", "in the future"],
)
def test_without_a_usable_modified_at_a_status_dates_from_the_sync(db, api, modified_at) -> None:
    _sync(db, api, [_at(remote_channel(1, status="submitted"), modified_at)])
    channel = get_channel(db, "ch1")
    assert channel["status_changed_at"] == channel["updated_at"]
    assert stuck(db, 60) == []


def test_a_status_change_dates_from_modified_at_but_never_before_the_status_it_replaces(db, api) -> None:
    held_since = datetime.now(UTC) - timedelta(hours=5)
    _sync(db, api, [_at(remote_channel(1, status="submitted"), held_since.isoformat())])
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    _sync(db, api, [_at(remote_channel(1, status="ready"), two_hours_ago.isoformat())])
    assert get_channel(db, "ch1")["status_changed_at"] == two_hours_ago.isoformat(timespec="microseconds")
    # The API says the channel last changed before the console saw it ready: its own record wins, dated now.
    _sync(db, api, [_at(remote_channel(1, status="running"), held_since.isoformat())])
    channel = get_channel(db, "ch1")
    assert channel["status_changed_at"] == channel["updated_at"]
    # A field that changes without the status keeps the status's time.
    _sync(db, api, [_at(remote_channel(1, status="running", quality="RED"), held_since.isoformat())])
    assert get_channel(db, "ch1")["status_changed_at"] == channel["status_changed_at"]


def test_a_modified_at_with_an_offset_is_read_in_utc(db, api) -> None:
    channel = {**remote_channel(1, status="ready"), "modified_at": "2025-11-05T16:21:09+02:00"}
    _sync(db, api, [channel])
    assert get_channel(db, "ch1")["status_changed_at"] == "2025-11-05T14:21:09.000000+00:00"
