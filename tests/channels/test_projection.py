"""The channel upsert's rules, decided inside one SQL statement: no step back, status time, quality history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.channels.projection import (
    api_channel_facts,
    apply_api_channel,
    apply_webhook_events,
    ensure_client,
    get_channel,
    upsert_channel,
    write_api_channels,
)
from services.events.webhook import ChannelFacts
from tests.support.console import console_db


def _set(db, channel_id: str = "aCH", **changes) -> dict:
    with db.atomic():
        return upsert_channel(db, channel_id, changes, source="test")


def _backdate(db, column: str, channel_id: str = "aCH") -> None:
    with db.atomic():
        db.execute(f"update channels set {column} = 'earlier' where id = ?", [channel_id])


def test_a_new_channel_gets_defaults_and_its_status_time(db) -> None:
    row = _set(db, status="pending", client_id="aCL")
    assert row == get_channel(db, "aCH")
    assert (row["status"], row["permission"], row["revoked"], row["client_id"]) == ("pending", "unknown", 0, "aCL")
    assert row["status_changed_at"] == row["updated_at"]
    assert row["last_source"] == "test"
    assert row["previous_quality_rating"] is None


def test_a_late_event_never_moves_the_stage_back(db) -> None:
    _set(db, status="running")
    _backdate(db, "status_changed_at")
    row = _set(db, status="pending", phone_number="+49 1")
    assert row["status"] == "running"
    assert row["status_changed_at"] == "earlier"
    assert row["phone_number"] == "+49 1"


def test_status_time_moves_only_on_a_real_change(db) -> None:
    _set(db, status="submitted")
    _backdate(db, "status_changed_at")
    assert _set(db, status="submitted")["status_changed_at"] == "earlier"
    assert _set(db, quality_rating="GREEN")["status_changed_at"] == "earlier"
    moved = _set(db, status="ready")
    assert moved["status"] == "ready"
    assert moved["status_changed_at"] == moved["updated_at"]


def test_an_unknown_status_is_taken_and_left_by_any_later_one(db) -> None:
    _set(db, status="running")
    assert _set(db, status="banned")["status"] == "banned"
    assert _set(db, status="pending")["status"] == "pending"


def test_none_leaves_a_field_and_permission_is_kept(db) -> None:
    _set(db, status="running", phone_number="+49 1", client_id="aCL", permission="granted")
    row = _set(db, status=None, phone_number=None, client_id=None, phone_name="Bakery")
    assert (row["status"], row["phone_number"], row["client_id"]) == ("running", "+49 1", "aCL")
    assert (row["permission"], row["revoked"], row["phone_name"]) == ("granted", 0, "Bakery")
    assert _set(db, permission="revoked", revoked=1)["revoked"] == 1


def test_quality_history_keeps_the_values_before_the_latest_change(db) -> None:
    first = _set(db, quality_rating="GREEN", messaging_limit="TIER_1K")
    assert first["quality_changed_at"] is None
    same = _set(db, quality_rating="GREEN", messaging_limit="TIER_1K")
    assert same["quality_changed_at"] is None
    drop = _set(db, quality_rating="YELLOW")
    assert (drop["previous_quality_rating"], drop["previous_messaging_limit"]) == ("GREEN", "TIER_1K")
    assert drop["quality_changed_at"] == drop["updated_at"]
    rise = _set(db, messaging_limit="TIER_10K")
    assert (rise["quality_rating"], rise["messaging_limit"]) == ("YELLOW", "TIER_10K")
    assert (rise["previous_quality_rating"], rise["previous_messaging_limit"]) == ("YELLOW", "TIER_1K")


def test_a_status_time_given_is_written_unless_the_status_changes(db) -> None:
    _set(db, status="running")
    assert _set(db, status="running", status_changed_at="given")["status_changed_at"] == "given"
    assert _set(db, status="pending", status_changed_at="again")["status_changed_at"] == "again"


def test_a_column_name_that_is_not_an_identifier_is_refused(db) -> None:
    with pytest.raises(ValueError, match="not a column name"):
        _set(db, **{"phone_name = 'x', status": "ready"})


def test_writes_outside_a_transaction_commit_and_first_seen_stays(db, db_path) -> None:
    upsert_channel(db, "aCH", {"status": "running"}, source="test")
    ensure_client(db, "aCL", name="Bakery")
    first_seen = db.execute("select first_seen_at from clients").fetchone()[0]
    ensure_client(db, "aCL", partner_payload="{}")
    assert not db.conn.in_transaction
    with console_db(db_path) as other:
        assert other.execute("select status from channels").fetchone()[0] == "running"
        assert other.execute("select name, partner_payload, first_seen_at from clients").fetchone() == (
            "Bakery",
            "{}",
            first_seen,
        )


# -- a status's time from the source, when it gives one in the past ---------------------------------------


def test_a_status_dates_from_the_time_its_source_gives_when_in_the_past(db) -> None:
    days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="microseconds")
    with db.atomic():
        row = upsert_channel(db, "aCH", {"status": "submitted"}, source="test", status_since=days_ago)
    assert row["status_changed_at"] == days_ago
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="microseconds")
    with db.atomic():
        row = upsert_channel(db, "bCH", {"status": "submitted"}, source="test", status_since=future)
    assert row["status_changed_at"] == row["updated_at"]


def test_a_status_change_never_dates_from_before_the_status_it_replaces(db) -> None:
    now = datetime.now(UTC)
    with db.atomic():
        upsert_channel(
            db, "aCH", {"status": "submitted"}, source="test", status_since=(now - timedelta(hours=5)).isoformat()
        )
    two_hours_ago = (now - timedelta(hours=2)).isoformat(timespec="microseconds")
    with db.atomic():
        row = upsert_channel(db, "aCH", {"status": "ready"}, source="test", status_since=two_hours_ago)
    assert row["status_changed_at"] == two_hours_ago
    with db.atomic():
        row = upsert_channel(
            db, "aCH", {"status": "running"}, source="test", status_since=(now - timedelta(hours=3)).isoformat()
        )
    assert row["status_changed_at"] == row["updated_at"]
    with db.atomic():
        same = upsert_channel(db, "aCH", {"status": "running"}, source="test", status_since=two_hours_ago)
    assert same["status_changed_at"] == row["status_changed_at"]


def test_a_partner_api_channel_dates_its_status_from_its_modified_at(db) -> None:
    # A redirect confirmed with the Partner API is where the demo's channels are first written.
    channel = {"id": "aCH", "client_id": "aCL", "status": "pending", "modified_at": "2025-11-03T09:40:02Z"}
    row = apply_api_channel(db, channel)
    assert row["status_changed_at"] == "2025-11-03T09:40:02.000000+00:00"
    bare = apply_api_channel(db, {"id": "bCH", "client_id": "aCL", "status": "pending"})
    assert bare["status_changed_at"] == bare["updated_at"]


# -- what differs between sources: webhooks keep a channel's first termination, the Partner API its latest ----


def _terminated(db, time: str) -> None:
    facts = ChannelFacts(
        event_type="channel_terminated",
        kind="channel_updated",
        channel_id="aCH",
        client_id=None,
        status=None,
        quality_rating=None,
        messaging_limit=None,
        phone_number=None,
        phone_name=None,
        client_name=None,
        waba_id=None,
        waba_external_id=None,
        portfolio_id=None,
        terminated_at=time,
    )
    with db.atomic():
        apply_webhook_events(db, [facts])


def test_a_webhook_keeps_the_first_termination_time_and_a_sync_writes_the_latest(db) -> None:
    _terminated(db, "2026-11-21T08:00:00Z")
    _terminated(db, "2026-11-22T08:00:00Z")
    assert get_channel(db, "aCH")["terminated_at"] == "2026-11-21T08:00:00.000000+00:00"
    facts = api_channel_facts({"id": "aCH", "terminated_at": "2026-11-23T08:00:00Z"})
    with db.atomic():
        write_api_channels(db, [facts], [], now="2026-11-24T00:00:00.000000+00:00")
    assert get_channel(db, "aCH")["terminated_at"] == "2026-11-23T08:00:00.000000+00:00"
