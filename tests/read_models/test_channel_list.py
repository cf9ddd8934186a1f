"""The channels views: a page of channels with search and filters, the funnel, and time in status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.channels.projection import record_granted
from services.keys.key_status import key_status
from services.read_models.channel_list import ChannelFilter, count_channels, funnel, page_channels, time_in_status


def test_page_search_and_filters(db, add_channel, add_key) -> None:
    add_channel("aaCH", status="running", phone_number="+49 151 1", phone_name="Bakery", client_id="c1")
    add_channel("bbCH", status="pending", phone_number="+49 151 2", phone_name="Florist", client_id="c2")
    add_key("aaCH")

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


def test_funnel_counts_each_stage(db, add_channel) -> None:
    for index, status in enumerate(["pending", "running", "running", "weird"]):
        add_channel(f"c{index}", status=status)
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


def test_a_revoking_redirect_makes_the_key_unusable(db, add_channel, add_key) -> None:
    add_channel("chCH", status="running", client_id="clCL")
    add_key("chCH")
    with db.atomic():
        record_granted(db, "clCL", (), ("chCH",))
    assert key_status(db, "chCH") == "unusable"
    assert page_channels(db, ChannelFilter(key_status="unusable"))[0]["id"] == "chCH"


def test_funnel_follows_status_changes_and_deletes(db, add_channel) -> None:
    add_channel("a", status="pending")
    add_channel("b", status="pending")
    add_channel("a", status="running")
    add_channel("b", status="pending")  # same status again: no double count
    assert (funnel(db)["pending"], funnel(db)["running"]) == (1, 1)
    with db.atomic():
        db.execute("delete from channels where id = 'a'")
    assert funnel(db)["running"] == 0
    exact = {row["s"]: row["n"] for row in db.query("select status as s, count(*) as n from channels group by 1")}
    assert {stage: n for stage, n in funnel(db).items() if n} == exact
