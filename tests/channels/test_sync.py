"""Sync from the Partner API: paging, reconciling, reporting, auditing, failing cleanly."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from services.channels.projection import upsert_channel
from services.channels.sync import sync_channels
from services.partner_api import PartnerApiError
from tests.support.mocked_hub import BASE

CHANNELS = f"{BASE}/partners/pa/channels"


def _remote(index: int, status: str = "running", quality: str = "GREEN") -> dict:
    return {
        "id": f"ch{index}",
        "client_id": "clCL",
        "status": status,
        "current_quality_rating": quality,
        "current_limit": "TIER_1K",
        "setup_info": {"phone_number": f"+49 {index}", "phone_name": "Shop"},
        "client": {"id": "clCL", "name": "Acme"},
    }


def _paged(channels: list[dict]):
    def answer(request):
        query = parse_qs(urlsplit(request.url).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        page = channels[offset : offset + limit]
        return 200, {}, json.dumps({"partner_channels": page, "total": len(channels), "count": len(page)})

    return answer


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
    remote = [_remote(0), _remote(1), *(_remote(index) for index in range(2, 250))]
    remote[1]["current_quality_rating"] = "RED"
    progress: list[tuple[int, int]] = []
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, CHANNELS, callback=_paged(remote))
        report = sync_channels(db, api, operator="alice", on_progress=lambda d, t: progress.append((d, t)))
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
        mocked.add_callback(responses.GET, CHANNELS, callback=_paged([_remote(1)]))
        sync_channels(db, api, operator="alice")
        again = sync_channels(db, api, operator="alice")
    assert (again.seen, again.new_channels, again.changes) == (1, [], [])


def test_a_failing_page_is_reported_and_audited(db, api) -> None:
    with responses.RequestsMock() as mocked:
        mocked.get(CHANNELS, status=401)
        with pytest.raises(PartnerApiError) as raised:
            sync_channels(db, api, operator="alice")
    assert raised.value.kind == "unauthorized"
    assert next(db.query("select outcome from audit"))["outcome"] == "failed"
