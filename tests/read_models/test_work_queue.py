"""What needs an operator's attention: running without a key, stuck, a quality or limit drop, revoked, a key
whose state is unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.channels.projection import apply_webhook_event
from services.events.webhook import normalise_event
from services.read_models.work_queue import needs_attention, quality_drop


def _quality(db, channel_id: str, quality: str, limit: str) -> None:
    event = normalise_event(
        {
            "event": "phone_number_quality_changed",
            "data": {"id": channel_id, "current_quality_rating": quality, "current_limit": limit},
        }
    )
    with db.atomic():
        apply_webhook_event(db, event)


def test_quality_history_tells_a_drop_from_a_rise(db, add_channel) -> None:
    add_channel("q", status="running")
    _quality(db, "q", "GREEN", "TIER_1K")
    channel = db["channels"].get("q")
    assert quality_drop(channel) is None
    _quality(db, "q", "YELLOW", "TIER_250")
    channel = db["channels"].get("q")
    assert channel["previous_quality_rating"] == "GREEN"
    assert quality_drop(channel) == "quality fell from GREEN to YELLOW; messaging limit fell from TIER_1K to TIER_250"
    _quality(db, "q", "GREEN", "TIER_250")
    assert quality_drop(db["channels"].get("q")) is None


def test_needs_attention_lists_each_reason(db, add_channel, add_key) -> None:
    add_channel("nokey", status="running")
    add_channel("haskey", status="running")
    add_key("haskey")
    add_channel("stuck", status="submitted")
    old = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    with db.atomic():
        db.execute("update channels set status_changed_at = ? where id = 'stuck'", [old])
    add_channel("fresh", status="submitted")
    add_channel("dropped", status="running")
    add_key("dropped")
    _quality(db, "dropped", "GREEN", "TIER_1K")
    _quality(db, "dropped", "RED", "TIER_1K")
    add_channel("gone", status="running", revoked=1)
    add_channel("lost", status="running")
    add_key("lost", outcome="unknown", status=None)
    reasons = {(item.channel_id, item.reason) for item in needs_attention(db, stuck_after_minutes=60)}
    assert reasons == {
        ("nokey", "running without a key"),
        ("stuck", "stuck"),
        ("dropped", "quality or limit dropped"),
        ("gone", "revoked"),
        ("lost", "check key state"),
        # A key whose follow-through never ran: not yet checked, its number's webhook not set.
        ("haskey", "key not ready to use"),
        ("dropped", "key not ready to use"),
    }
