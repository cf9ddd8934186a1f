"""The channels table, funnel, attention list, quality drops, timeline and revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services import audit
from services.channels.attention import needs_attention, quality_drop
from services.channels.projection import apply_webhook_event, record_granted, upsert_channel
from services.channels.query import ChannelFilter, count_channels, funnel, page_channels, time_in_status
from services.channels.timeline import channel_timeline
from services.events.store import save_events
from services.events.webhook import normalise_event
from services.keys.generation import key_status
from services.onboarding.links import LinkRequest, hand_out_link
from services.onboarding.redirect import parse_redirect
from services.onboarding.redirects import save_redirect
from services.store import open_console_db


@pytest.fixture
def db(tmp_path):
    database = open_console_db(tmp_path / "console.db")
    yield database
    database.close()


def _channel(db, channel_id: str, **fields) -> None:
    with db.atomic():
        upsert_channel(db, channel_id, fields, source="test")


def _key(db, channel_id: str, outcome: str = "ok", status: str | None = "active") -> None:
    with db.atomic():
        db["api_keys"].insert(
            {"channel_id": channel_id, "operator": "ops", "created_at": "t", "outcome": outcome, "status": status}
        )


def _quality(db, channel_id: str, quality: str, limit: str) -> None:
    event = normalise_event(
        {
            "event": "phone_number_quality_changed",
            "data": {"id": channel_id, "current_quality_rating": quality, "current_limit": limit},
        }
    )
    with db.atomic():
        apply_webhook_event(db, event)


def test_page_search_and_filters(db) -> None:
    _channel(db, "aaCH", status="running", phone_number="+49 151 1", phone_name="Bakery", client_id="c1")
    _channel(db, "bbCH", status="pending", phone_number="+49 151 2", phone_name="Florist", client_id="c2")
    _key(db, "aaCH")

    def ids(**kwargs):
        return [row["id"] for row in page_channels(db, ChannelFilter(**kwargs))]

    assert ids() == ["bbCH", "aaCH"]
    assert ids(search="bakery") == ["aaCH"]
    assert ids(search="151 2") == ["bbCH"]
    assert ids(search="%") == []
    assert ids(status="running") == ["aaCH"]
    assert ids(client_id="c2") == ["bbCH"]
    assert ids(key_status="active") == ["aaCH"]
    assert ids(key_status="none") == ["bbCH"]
    assert count_channels(db, ChannelFilter()) == 2
    assert count_channels(db, ChannelFilter(), cap=1) == 1
    row = page_channels(db, ChannelFilter(search="aa"))[0]
    assert row["key_status"] == "active"
    assert row["in_status_for"] == "0 min"


def test_funnel_counts_each_stage(db) -> None:
    for index, status in enumerate(["pending", "running", "running", "weird"]):
        _channel(db, f"c{index}", status=status)
    counts = funnel(db)
    assert counts["running"] == 2
    assert counts["pending"] == 1
    assert counts["ready"] == 0
    assert counts["weird"] == 1


def test_time_in_status() -> None:
    now = datetime(2026, 1, 3, 5, 30, tzinfo=UTC)
    assert time_in_status((now - timedelta(days=2, hours=3)).isoformat(), now) == "2 d 3 h"
    assert time_in_status((now - timedelta(minutes=90)).isoformat(), now) == "1 h 30 min"
    assert time_in_status(None, now) == ""
    assert time_in_status("garbage", now) == ""


def test_quality_history_tells_a_drop_from_a_rise(db) -> None:
    _channel(db, "q", status="running")
    _quality(db, "q", "GREEN", "TIER_1K")
    channel = db["channels"].get("q")
    assert quality_drop(channel) is None
    _quality(db, "q", "YELLOW", "TIER_250")
    channel = db["channels"].get("q")
    assert channel["previous_quality_rating"] == "GREEN"
    assert quality_drop(channel) == "quality fell from GREEN to YELLOW; messaging limit fell from TIER_1K to TIER_250"
    _quality(db, "q", "GREEN", "TIER_250")
    assert quality_drop(db["channels"].get("q")) is None


def test_needs_attention_lists_each_reason(db) -> None:
    _channel(db, "nokey", status="running")
    _channel(db, "haskey", status="running")
    _key(db, "haskey")
    _channel(db, "stuck", status="submitted")
    old = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    with db.atomic():
        db.execute("update channels set status_changed_at = ? where id = 'stuck'", [old])
    _channel(db, "fresh", status="submitted")
    _channel(db, "dropped", status="running")
    _key(db, "dropped")
    _quality(db, "dropped", "GREEN", "TIER_1K")
    _quality(db, "dropped", "RED", "TIER_1K")
    _channel(db, "gone", status="running", revoked=1)
    _channel(db, "lost", status="running")
    _key(db, "lost", outcome="unknown", status=None)
    reasons = {(item.channel_id, item.reason) for item in needs_attention(db, stuck_after_minutes=60)}
    assert reasons == {
        ("nokey", "running without a key"),
        ("stuck", "stuck"),
        ("dropped", "quality or limit dropped"),
        ("gone", "revoked"),
        ("lost", "check key state"),
    }


def test_a_revoking_redirect_makes_the_key_unusable(db) -> None:
    _channel(db, "chCH", status="running", client_id="clCL")
    _key(db, "chCH")
    with db.atomic():
        record_granted(db, "clCL", (), ("chCH",))
    assert key_status(db, "chCH") == "unusable"
    assert page_channels(db, ChannelFilter(key_status="unusable"))[0]["id"] == "chCH"


def test_timeline_holds_link_redirect_webhooks_and_operator_actions(db) -> None:
    link = hand_out_link(db, LinkRequest(), partner_id="demoPA", operator="alice")
    redirect = parse_redirect({"client": ["clCL"], "channels": ["[chCH,otherCH]"], "state": [link.state]})
    save_redirect(db, f"client=clCL&channels=[chCH,otherCH]&state={link.state}", redirect)
    save_events(
        db,
        [normalise_event({"id": "e1", "event": "channel_status_running", "data": {"id": "chCH"}})],
        headers={},
        verdict="ok",
    )
    audit.record(db, operator="bob", action="generate_key", channel_id="chCH", outcome="ok", detail="key ending 1234")
    audit.record(db, operator="bob", action="generate_key", channel_id="otherCH", outcome="ok")
    entries = channel_timeline(db, "chCH")
    whats = [entry.what for entry in entries]
    assert whats[0] == "key generation: ok"
    assert set(whats) == {
        "onboarding link handed out",
        "redirect: permission granted",
        "webhook channel_status_running",
        "key generation: ok",
    }
    assert {entry.who for entry in entries} == {"alice", "client", "360dialog", "bob"}
    assert [entry.at for entry in entries] == sorted((entry.at for entry in entries), reverse=True)


def test_funnel_follows_status_changes_and_deletes(db) -> None:
    _channel(db, "a", status="pending")
    _channel(db, "b", status="pending")
    _channel(db, "a", status="running")
    _channel(db, "b", status="pending")  # same status again: no double count
    assert (funnel(db)["pending"], funnel(db)["running"]) == (1, 1)
    with db.atomic():
        db.execute("delete from channels where id = 'a'")
    assert funnel(db)["running"] == 0
    exact = {row["s"]: row["n"] for row in db.query("select status as s, count(*) as n from channels group by 1")}
    assert {stage: n for stage, n in funnel(db).items() if n} == exact
