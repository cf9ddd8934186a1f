"""What changes at 360dialog after day one reaches the channels: each channel's WABA and business portfolio,
limits as tiers or numbers on one scale, template events through the WABA, cancellations and terminated_at.
Driven with the recorded shapes (tests/fixtures/360dialog/), several of them unconfirmed (contract section 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses

from services.alerts.ledger import record_scans
from services.alerts.rules import find_limit_drops, find_quality_drops, find_stuck, find_template_problems
from services.channels.endings import cancellation_note, ended_reason, still_open
from services.channels.projection import get_channel
from services.channels.sync import sync_channels
from services.events.webhook import parse_webhook_body
from services.read_models import work_queue as attention
from services.read_models.channel_list import funnel
from services.read_models.channel_timeline import channel_timeline
from services.settings import AlertSettings
from services.whatsapp import limit_value
from tests.support import FIXTURES
from tests.support.events import save_events
from tests.support.partner_channels import CHANNELS, paged, remote_channel
from tests.support.people import person

RECORDED = {item["name"]: item for item in json.loads((FIXTURES / "360dialog" / "partner_webhooks.json").read_text())}
LISTS = json.loads((FIXTURES / "360dialog" / "channel_lists.json").read_text())


def _receive(db, *bodies: dict) -> None:
    for body in bodies:
        save_events(db, parse_webhook_body(json.dumps(body).encode()), headers={}, verdict="valid")


def _channel_body(channel_id: str, **data: object) -> dict:
    return {"event": "phone_number_quality_changed", "data": {"id": channel_id, "status": "running", **data}}


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("TIER_50", 50),
        ("TIER_1K", 1000),
        ("tier_2k", 2000),
        ("2000", 2000),
        (" 10000 ", 10000),
        (100000, 100000),
        ("100,000", 100000),
        ("unlimited", float("inf")),
        ("TIER_UNLIMITED", float("inf")),
        ("fast", None),
        ("0", None),
        (True, None),
        (None, None),
    ],
)
def test_tiers_and_numeric_limits_sit_on_one_scale(written, value) -> None:
    assert limit_value(written) == value


@pytest.mark.parametrize(
    ("old", "new", "dropped"),
    [("TIER_10K", "2000", True), ("10000", "2000", True), ("250", "TIER_1K", False), ("unlimited", "100000", True)],
)
def test_a_numeric_limit_drop_is_a_drop(old, new, dropped) -> None:
    row = {"previous_messaging_limit": old, "messaging_limit": new}
    assert attention.limit_dropped(old, new) is dropped
    assert ("messaging limit fell" in (attention.quality_drop(row) or "")) is dropped


def test_a_channel_keeps_its_waba_and_portfolio_from_a_webhook(db) -> None:
    _receive(db, RECORDED["phone_number_quality_changed with a numeric portfolio limit"]["body"])
    channel = get_channel(db, "tlbN64CH")
    assert (channel["waba_id"], channel["waba_external_id"], channel["portfolio_id"]) == (
        "wabaX91",
        "104857600",
        "bp3141592653",
    )
    assert channel["messaging_limit"] == "2000"


def test_a_sync_keeps_the_waba_of_a_top_level_waba_account_id(db, api) -> None:
    answer = next(item for item in LISTS if item["name"] == "a list answer as production integrations record it")
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, CHANNELS, json=answer["body"])
        sync_channels(db, api, actor=person("alice"))
    channel = get_channel(db, "tlbN64CH")
    assert (channel["waba_id"], channel["waba_external_id"], channel["ended"]) == ("wabaQ7", "104857600", None)


def test_a_portfolio_limit_drop_is_one_alert_naming_its_numbers(db) -> None:
    waba = {"id": "wabaP1", "business_id": "bpACME"}
    _receive(
        db,
        *(
            _channel_body(
                f"pf{n}", current_limit="TIER_10K", setup_info={"phone_number": f"+49 151 {n}"}, waba_account=waba
            )
            for n in range(3)
        ),
        _channel_body("alone", current_limit="TIER_10K", waba_account={"id": "wabaA"}),
    )
    _receive(db, *(_channel_body(f"pf{n}", current_limit="2000", current_quality_rating="GREEN") for n in range(3)))
    now = datetime.now(UTC)
    scan = find_limit_drops(db, AlertSettings(), now)
    assert [finding.subject for finding in scan.findings] == ["limit/business portfolio bpACME"]
    detail = scan.findings[0].detail
    assert "fell from TIER_10K to 2000 for business portfolio bpACME" in detail
    assert "3 numbers: +49 151 0, +49 151 1, +49 151 2" in detail
    assert find_quality_drops(db, AlertSettings(), now).findings == []
    assert record_scans(db, {"limit_drop": scan}, now).fired == 1
    assert record_scans(db, {"limit_drop": find_limit_drops(db, AlertSettings(), now)}, now).fired == 0


def test_without_a_portfolio_the_waba_groups_the_numbers(db) -> None:
    _receive(db, *(_channel_body(f"w{n}", current_limit="100000", waba_account={"id": "wabaW"}) for n in range(2)))
    _receive(db, *(_channel_body(f"w{n}", current_limit="TIER_1K") for n in range(2)))
    findings = find_limit_drops(db, AlertSettings(), datetime.now(UTC)).findings
    assert [(finding.subject, finding.channel_id) for finding in findings] == [("limit/WABA wabaW", None)]


def test_a_rejected_template_reaches_every_channel_of_its_waba(db) -> None:
    _receive(
        db,
        _channel_body("t1", waba_account={"id": "wabaX91"}),
        _channel_body("t2", waba_account_id="wabaX91"),
        _channel_body("other", waba_account={"id": "wabaOther"}),
        RECORDED["waba_template_status_changed: a template rejected"]["body"],
    )
    for channel_id in ("t1", "t2"):
        entries = [entry for entry in channel_timeline(db, channel_id) if "template" in entry.what]
        assert [entry.detail for entry in entries] == [
            "template spring_sale (en): rejected (INVALID_FORMAT) (WABA wabaX91)"
        ]
    assert not [entry for entry in channel_timeline(db, "other") if "template" in entry.what]
    items = [
        item for item in attention.needs_attention(db, stuck_after_minutes=60) if item.reason == "template problem"
    ]
    assert sorted(item.channel_id for item in items) == ["t1", "t2"]
    findings = find_template_problems(db, AlertSettings(), datetime.now(UTC)).findings
    assert sorted(finding.subject for finding in findings) == [
        "t1/template spring_sale (en)",
        "t2/template spring_sale (en)",
    ]


def test_a_later_decision_and_enabled_messaging_clear_template_problems(db) -> None:
    _receive(
        db,
        _channel_body("t1", waba_account={"id": "wabaX91"}),
        RECORDED["template_messaging_disabled naming its WABA"]["body"],
    )
    assert [p.subject for p in find_template_problems(db, AlertSettings(), datetime.now(UTC)).findings] == [
        "t1/template messaging"
    ]
    approved = {
        "event": "waba_template_status_changed",
        "id": "later",
        "data": {"id": "wabaX91", "template": {"name": "spring_sale", "language": "en", "status": "approved"}},
    }
    _receive(db, RECORDED["template_messaging_enabled naming its WABA"]["body"], approved)
    assert find_template_problems(db, AlertSettings(), datetime.now(UTC)).findings == []
    # The template event for a WABA known only by Meta's id reaches the channel as well.
    _receive(
        db,
        _channel_body("t3", waba_account={"id": "wabaT3", "external_id": "104857699"}),
        {"event": "template_messaging_disabled", "data": {"id": "104857699"}},
    )
    assert [p.channel_id for p in find_template_problems(db, AlertSettings(), datetime.now(UTC)).findings] == ["t3"]


def test_a_cancellation_request_can_be_revoked(db) -> None:
    _receive(db, _channel_body("tlbN64CH"), RECORDED["cancellation_request naming its channel"]["body"])
    channel = get_channel(db, "tlbN64CH")
    assert channel["cancellation"] == "requested"
    assert channel["ended"] is None
    assert "cancellation requested" in cancellation_note(channel)
    reasons = [item.reason for item in attention.needs_attention(db, stuck_after_minutes=60)]
    assert "cancellation requested" in reasons
    _receive(db, RECORDED["cancellation_revoke naming its channel by channel_id"]["body"])
    channel = get_channel(db, "tlbN64CH")
    assert channel["cancellation"] is None
    assert cancellation_note(channel) is None


def test_a_processed_cancellation_ends_the_channel_for_good(db) -> None:
    _receive(db, _channel_body("tlbN64CH"), _channel_body("open"))
    assert funnel(db)["running"] == 2
    _receive(db, RECORDED["cancellation_processed with terminated_at"]["body"])
    _receive(db, {"event": "cancellation_revoke", "id": "late", "data": {"channel_id": "tlbN64CH"}})
    channel = get_channel(db, "tlbN64CH")
    assert channel["ended"] == "terminated"
    assert channel["cancellation"] == "cancelled"
    assert "terminated this channel at 2026-11-20 10:00:00 UTC" in ended_reason(channel)
    counts = funnel(db)
    assert (counts["running"], counts.get("terminated")) == (1, 1)
    assert still_open(db, ["tlbN64CH", "open"]) == ["open"]


def test_a_cancelled_channel_without_a_time_leaves_the_funnel_and_stuck_list(db) -> None:
    _receive(db, {"event": "channel_submitted", "data": {"id": "sub", "status": "submitted"}})
    _receive(db, {"event": "cancellation_processed", "data": {"id": "sub"}})
    channel = get_channel(db, "sub")
    assert channel["ended"] == "cancelled"
    assert "cancellation was processed" in ended_reason(channel)
    assert funnel(db).get("submitted") == 0
    assert funnel(db).get("cancelled") == 1
    assert attention.stuck(db, after_minutes=-1) == []
    assert find_stuck(db, AlertSettings(stuck_minutes=-1), datetime.now(UTC)).findings == []


def test_a_sync_that_reads_terminated_at_ends_the_channel_and_says_so(db, api) -> None:
    terminated = {**remote_channel(0), "terminated_at": "2026-11-21T08:00:00Z"}
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged([remote_channel(0)]))
        sync_channels(db, api, actor=person("alice"))
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=paged([terminated]))
        report = sync_channels(db, api, actor=person("alice"))
    assert [(change.field, change.after) for change in report.changes] == [
        ("terminated_at", "2026-11-21T08:00:00.000000+00:00")
    ]
    assert get_channel(db, "ch0")["ended"] == "terminated"
    assert any("terminated_at" in entry.detail for entry in channel_timeline(db, "ch0"))
