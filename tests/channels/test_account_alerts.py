"""Account violations and restrictions reach their channel by the number's digits: on the attention list, in
the channel's timeline, and on the Events page; they never create or change a channel row."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlite_utils import Database

from services.channels.account_alerts import (
    _NEWEST_BY_NUMBER_SQL,
    _WINDOW_KEY_SQL,
    ALERT_WINDOW_DAYS,
    NO_CHANNEL_NOTE,
    NO_NUMBER_NOTE,
    alert_notes,
    alert_summary,
    channel_alerts,
    recent_channel_alerts,
)
from services.channels.event_listing import list_incoming
from services.channels.projection import get_channel
from services.events.incoming import store_incoming
from services.events.store import EventFilter, page_events
from services.events.webhook import normalise_event
from services.migrations import console_migrations, phone_digits_sql
from services.read_models.channel_timeline import channel_timeline
from services.read_models.work_queue import needs_attention
from services.whatsapp import PHONE_SEPARATORS, phone_digits
from tests.support.events import save_event


def _alert(db: Database, number: object, *, event: str = "account_violation", at: str | None = None, **data) -> None:
    body = {"id": f"ev{db['events'].count}", "event": event, "data": {"phone_number": number, **data}}
    received_at = at or datetime.now(UTC).isoformat(timespec="microseconds")
    with db.atomic():
        save_event(db, normalise_event(body), headers={}, verdict="valid", received_at=received_at)


def test_a_violation_named_by_digits_reaches_the_channel_stored_with_spaces(db, add_channel) -> None:
    add_channel("shopCH", status="running", phone_number="+49 151 1234567", client_id="shopCL")
    add_channel("otherCH", status="running", phone_number="+49 151 7654321")
    before = get_channel(db, "shopCH")
    _alert(db, "491511234567", violation_type="SCAM")

    assert get_channel(db, "shopCH") == before
    assert db["channels"].count == 2
    [item] = [item for item in needs_attention(db, stuck_after_minutes=60) if item.reason == "account violation"]
    assert (item.channel_id, item.detail) == ("shopCH", "violation type SCAM")
    assert item.since == db.execute("select received_at from events").fetchone()[0]
    [entry] = [entry for entry in channel_timeline(db, "shopCH") if entry.what == "account violation"]
    assert (entry.who, entry.detail) == ("360dialog", "violation type SCAM (matched by phone number)")
    assert not [entry for entry in channel_timeline(db, "otherCH") if entry.what.startswith("account")]


def test_a_restriction_names_its_restrictions_and_when_they_end(db, add_channel) -> None:
    add_channel("limitedCH", phone_number="15553785635")
    _alert(
        db,
        "+1 555 378 5635",
        event="account_restriction",
        violation_info={"violation_type": "SPAM"},
        restriction_info=[
            {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": "2026-12-01T00:00:00+0000"},
            {"restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION"},
        ],
    )
    [alert] = recent_channel_alerts(db)
    assert (alert.channel_id, alert.label) == ("limitedCH", "account restriction")
    assert alert.summary == (
        "violation type SPAM; restricted: RESTRICTED_BIZ_INITIATED_MESSAGING until 2026-12-01T00:00:00+0000, "
        "RESTRICTED_ADD_PHONE_NUMBER_ACTION"
    )


@pytest.mark.parametrize(
    ("data", "summary"),
    [
        ({"violation_type": "SCAM"}, "violation type SCAM"),
        ({"violation_info": {"violation_type": "ADULT"}}, "violation type ADULT"),
        ({"restriction_info": {"restriction_type": "R1", "expiration": 17}}, "restricted: R1 until 17"),
        ({"restriction_type": "R2"}, "restricted: R2"),
        ({"restriction_info": ["not an object", {"expiration": "soon"}]}, "restricted: restriction until soon"),
        ({"violation_type": {"nested": "no"}}, "no violation type given"),
        ({}, "no violation type given"),
        ("not an object", "no details given"),
    ],
)
def test_the_summary_reads_every_shape_tolerantly(data: object, summary: str) -> None:
    assert alert_summary({"event": "account_restriction", "data": data}) == summary


def test_an_alert_for_an_unknown_number_is_stored_and_noted(db, add_channel) -> None:
    add_channel("knownCH", phone_number="+44 7700 900123")
    _alert(db, "4915550000000", violation_type="SCAM")
    _alert(db, "447700900123", violation_type="SCAM")
    _alert(db, None, event="account_restriction")
    rows = page_events(db, EventFilter())
    notes = alert_notes(db, rows)
    assert sorted(notes.values()) == sorted([NO_CHANNEL_NOTE, "channel knownCH", NO_NUMBER_NOTE])
    assert db["channels"].count == 1
    assert [item.channel_id for item in needs_attention(db, stuck_after_minutes=60)] == ["knownCH"]


def test_an_alert_that_came_first_finds_the_channel_learnt_later(db, add_channel) -> None:
    _alert(db, "+49 (151) 222-333", violation_type="SCAM")
    assert recent_channel_alerts(db) == []
    add_channel("lateCH", phone_number="49151222333")
    assert [alert.channel_id for alert in recent_channel_alerts(db)] == ["lateCH"]


def test_each_channel_shows_its_newest_alert_of_each_kind_within_the_window(db, add_channel) -> None:
    add_channel("aCH", phone_number="111111")
    add_channel("bCH", phone_number="222222")
    now = datetime.now(UTC)
    old = (now - timedelta(days=ALERT_WINDOW_DAYS + 1)).isoformat()
    _alert(db, "111111", violation_type="OLD", at=old)
    _alert(db, "111111", violation_type="FIRST", at=(now - timedelta(hours=2)).isoformat())
    _alert(db, "111111", violation_type="NEWEST", at=(now - timedelta(hours=1)).isoformat())
    _alert(db, "111111", event="account_restriction", violation_type="R", at=(now - timedelta(hours=3)).isoformat())
    _alert(db, "222222", violation_type="ONLY", at=old)
    alerts = recent_channel_alerts(db)
    assert [(alert.channel_id, alert.summary) for alert in alerts] == [
        ("aCH", "violation type NEWEST"),
        ("aCH", "violation type R"),
    ]
    # The timeline keeps every one, the old ones included.
    assert len(channel_alerts(db, "aCH")) == 4
    assert [alert.summary for alert in channel_alerts(db, "bCH")] == ["violation type ONLY"]


def test_two_channels_with_one_number_both_get_the_alert(db, add_channel) -> None:
    add_channel("oldCH", phone_number="+55 11 9 1234 5678", status="running")
    add_channel("newCH", phone_number="5511912345678", status="pending")
    _alert(db, "5511912345678", violation_type="SCAM")
    assert sorted(alert.channel_id for alert in recent_channel_alerts(db)) == ["newCH", "oldCH"]
    assert set(alert_notes(db, page_events(db, EventFilter())).values()) == {"channels newCH, oldCH"}


def test_the_writer_keeps_the_digits_from_incoming_to_listed(db, add_channel) -> None:
    add_channel("queuedCH", phone_number="+34 612 000 111")
    event = normalise_event({"id": "e1", "event": "account_violation", "data": {"phone_number": "+34612000111"}})
    with db.atomic():
        store_incoming(db, [(event, "{}", "valid")], received_at=datetime.now(UTC).isoformat())
        list_incoming(db, 10)
    assert db.execute("select phone_digits, channel_id from events").fetchall() == [("34612000111", None)]
    assert [alert.channel_id for alert in recent_channel_alerts(db)] == ["queuedCH"]


def test_reading_alerts_goes_through_the_indexes(db) -> None:
    def plan(sql: str, params: list) -> str:
        return " ".join(row[3] for row in db.execute(f"explain query plan {sql}", params))

    for sql in (_NEWEST_BY_NUMBER_SQL, _WINDOW_KEY_SQL):
        recent = plan(sql, ["account_violation", "account_restriction", "2026-01-01"])
        assert "SCAN events" not in recent
        assert "idx_events_event_type_received_at" in recent
    timeline = plan("select id from events where phone_digits = ? order by received_at desc, id desc limit ?", ["1", 5])
    assert "idx_events_phone_digits_received_at" in timeline
    notes = plan("select id from channels where phone_digits in (select value from json_each(?))", ["[]"])
    assert "idx_channels_phone_digits" in notes


@given(
    st.one_of(
        st.none(),
        st.integers(min_value=0, max_value=2**63 - 1),
        st.text(alphabet=st.sampled_from([*"0123456789", *PHONE_SEPARATORS, "a", ":", "\u0664", "\u2007"])),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    )
)
def test_the_database_and_python_agree_on_a_numbers_digits(number: object) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        (in_sql,) = conn.execute(f"select {phone_digits_sql('?1')}", [number]).fetchone()
    finally:
        conn.close()
    assert in_sql == phone_digits(number)


def test_the_migration_reads_the_numbers_of_alerts_stored_before_it(tmp_path) -> None:
    db = Database(sqlite3.connect(str(tmp_path / "console.db")))
    try:
        console_migrations.apply(db, stop_before="m011_account_alerts_by_number")
        body = {"event": "account_violation", "data": {"phone_number": "+49 151 99", "violation_type": "SCAM"}}
        db["events"].insert_all(
            [
                {"dedupe_key": "k1", "event_type": "account_violation", "kind": "account_alert",
                 "raw_body": json.dumps(body), "received_at": datetime.now(UTC).isoformat()},
                {"dedupe_key": "k2", "event_type": "account_violation", "kind": "account_alert",
                 "raw_body": "{not json", "received_at": datetime.now(UTC).isoformat()},
            ]
        )  # fmt: skip
        db["channels"].insert({"id": "beforeCH", "phone_number": "49 151 99"})
        console_migrations.apply(db)
        assert db.execute("select phone_digits from events order by id").fetchall() == [("4915199",), (None,)]
        assert [alert.channel_id for alert in recent_channel_alerts(db)] == ["beforeCH"]
    finally:
        db.close()
