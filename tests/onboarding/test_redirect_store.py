"""Redirects received: stored raw then applied, matched to their link by state, reload idempotence, refused
redirects kept with their reason, revocations, and each channel's next step as the landing page lists it."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import responses
from sqlite_utils import Database

from services.channels.projection import get_channel, upsert_channel
from services.keys.key_status import key_status
from services.migrations import console_migrations
from services.onboarding.links import LinkRequest, get_link, hand_out_link, link_history
from services.onboarding.redirect_decision import confirm_waiting_redirects, discard_unreviewed
from services.onboarding.redirect_params import MAX_QUERY_LENGTH
from services.onboarding.redirect_store import receive_redirect
from services.read_models.redirects import (
    channel_next_steps,
    dropped_redirects,
    held_count,
    recent_redirects,
    redirect_for_state,
    redirect_view,
    review_items,
    unreviewed_sources,
)
from services.settings import RedirectLimits
from tests.support.console import console_db
from tests.support.people import person


def add_key(db, channel_id: str, *, status: str = "active", outcome: str = "ok") -> None:
    with db.atomic():
        db["api_keys"].insert(
            {
                "channel_id": channel_id,
                "operator": "ana",
                "created_at": datetime.now(UTC).isoformat(),
                "outcome": outcome,
                "status": status,
                "key_encrypted": "sealed",
                "key_last4": "abcd",
            }
        )


def known(db, *channel_ids: str, client_id: str | None = "aCL") -> None:
    """Channels this console already knows (from webhooks or a sync): a redirect never creates one."""
    for channel_id in channel_ids:
        upsert_channel(db, channel_id, {"client_id": client_id}, source="webhook")


def test_a_redirect_is_stored_raw_then_applied(db, link_for) -> None:
    known(db, "aCH", "bCH", client_id=None)
    state = link_for().state
    stored = receive_redirect(db, f"client=aCL&channels=%5BaCH%2CbCH%5D&state={state}")
    assert stored.is_new
    assert stored.error is None
    assert stored.state_match == "matched"
    row = db["redirects"].get(stored.id)
    assert row["raw_query"] == f"client=aCL&channels=%5BaCH%2CbCH%5D&state={state}"
    assert (row["client_id"], json.loads(row["channels"]), json.loads(row["revoked"])) == ("aCL", ["aCH", "bCH"], [])
    assert get_channel(db, "aCH")["permission"] == "granted"
    assert get_channel(db, "bCH")["client_id"] == "aCL"


def test_a_reload_finds_the_same_row_and_applies_nothing_twice(db, link_for) -> None:
    known(db, "aCH")
    link = link_for()
    query = {"client": "aCL", "channels": "[aCH]", "state": link.state}
    first = receive_redirect(db, query)
    updated = get_channel(db, "aCH")["updated_at"]
    again = receive_redirect(db, dict(query))
    assert (again.id, again.is_new, again.state_match) == (first.id, False, "matched")
    assert db["redirects"].count == 1
    assert get_channel(db, "aCH")["updated_at"] == updated


def test_the_redirect_matches_its_link_by_state(db, link_for) -> None:
    known(db, "aCH")
    link = link_for("ana")
    other = link_for("ben")
    stored = receive_redirect(db, f"client=aCL&channels=[aCH]&state={link.state}")
    assert stored.state_match == "matched"
    row = get_link(db, link.state)
    assert row["used_at"] is not None
    assert row["redirect_id"] == stored.id
    assert get_link(db, other.state)["used_at"] is None
    view = redirect_for_state(db, link.state)
    assert (view.client, view.channels, view.link_operator) == ("aCL", ("aCH",), "ana")
    assert redirect_for_state(db, other.state) is None
    history = {row["state"]: row for row in link_history(db)}
    assert (history[link.state]["status"], history[link.state]["client"]) == ("redirected", "aCL")
    assert (history[other.state]["status"], history[other.state]["client"]) == ("open", "")
    assert history[link.state]["operator"] == "ana"
    assert "redirect_url=http://localhost:8501/landing" in history[link.state]["parameters"]


def test_a_second_redirect_with_a_used_state_is_flagged_and_held(db, link_for) -> None:
    known(db, "aCH")
    link = link_for()
    receive_redirect(db, f"client=aCL&channels=[aCH]&state={link.state}")
    replay = receive_redirect(db, f"client=evilCL&channels=[zCH]&state={link.state}")
    assert (replay.state_match, replay.verdict) == ("already used", "held")
    assert redirect_view(db, replay.id).link_operator is None
    assert get_channel(db, "zCH") is None


def test_unknown_and_expired_states(db, link_for) -> None:
    assert receive_redirect(db, "client=aCL&channels=[aCH]&state=nobody").state_match == "unknown state"
    link = link_for()
    with db.atomic():
        db["io_links"].update(link.state, {"expires_at": "2020-01-15T00:00:00+00:00"})
    assert receive_redirect(db, f"client=aCL&channels=[bCH]&state={link.state}").state_match == "expired link"


def test_a_redirect_that_cannot_be_read_is_kept_with_the_reason_and_applies_nothing(db) -> None:
    stored = receive_redirect(db, "client=aCL&channels=[aCH;drop]")
    assert stored.error is not None
    assert "'aCH;drop'" in stored.error
    view = redirect_view(db, stored.id)
    assert view.raw_query == "client=aCL&channels=[aCH;drop]"
    assert view.error == stored.error
    assert view.client is None
    assert db["channels"].count == 0
    assert receive_redirect(db, "client=aCL&channels=[aCH;drop]").id == stored.id
    assert db["redirects"].count == 1
    assert recent_redirects(db)[0]["why"] == stored.error
    assert recent_redirects(db)[0]["verdict"] == "refused (it cannot be read)"


@responses.activate
def test_revoked_channels_are_marked_and_their_stored_keys_made_unusable(db, api) -> None:
    upsert_channel(db, "cCH", {"client_id": "aCL", "status": "running"}, source="test")
    add_key(db, "cCH", status="revoked")
    add_key(db, "cCH", status="active")
    add_key(db, "cCH", status=None, outcome="failed")
    add_key(db, "aCH", status="active")
    known(db, "aCH")
    stored = receive_redirect(db, "client=aCL&channels=[aCH]&revoked=[cCH]", direct_paid=True)
    shared = {"shared_client_numbers": [{"channel_id": "aCH"}]}
    listed = [{"id": channel_id, "client_id": "aCL"} for channel_id in ("aCH", "cCH")]
    responses.get(f"{api.base_url}/partners/{api.partner_id}/channels", json={"partner_channels": listed, "total": 2})
    responses.get(f"{api.base_url}/partners/{api.partner_id}/clients/aCL/shared_client_numbers", json=shared)
    [decision] = confirm_waiting_redirects(db, api, direct_paid=True, budget=5)
    assert decision.keys_marked_unusable == 1
    statuses = [row["status"] for row in db["api_keys"].rows_where("channel_id = ?", ["cCH"], order_by="id")]
    assert statuses == ["revoked", "unusable", None]
    assert key_status(db, "cCH") == "unusable"
    assert key_status(db, "aCH") == "active"
    assert get_channel(db, "cCH")["revoked"] == 1
    assert get_channel(db, "cCH")["permission"] == "revoked"
    audit = list(db["audit"].rows_where("action = 'permission_revoked'"))
    assert [(row["channel_id"], row["detail"]) for row in audit] == [("cCH", "1 stored key(s) marked unusable")]
    view = redirect_view(db, stored.id)
    assert view.keys_marked_unusable == 1
    steps = {step["channel"]: step for step in channel_next_steps(db, view)}
    assert steps["cCH"]["permission"] == "revoked"
    assert steps["cCH"]["next"] == "permission withdrawn; its stored key is marked unusable"
    assert steps["aCH"]["next"] == "key exists"


def test_two_tabs_landing_together_apply_the_redirect_once(db_path: Path) -> None:
    with console_db(db_path) as database:  # made and migrated before the tabs race
        known(database, "aCH", "cCH", client_id=None)
        state = hand_out_link(database, LinkRequest(), partner_id="abcPA", actor=person("ana")).state
    barrier = threading.Barrier(4)
    results = []

    def land() -> None:
        with console_db(db_path) as database:
            barrier.wait()
            results.append(receive_redirect(database, f"client=aCL&channels=[aCH]&revoked=[cCH]&state={state}"))

    threads = [threading.Thread(target=land) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result.is_new for result in results) == [False, False, False, True]
    assert len({result.id for result in results}) == 1
    with console_db(db_path) as database:
        assert database["redirects"].count == 1
        assert database["audit"].count == 1


def test_a_flood_through_query_params_is_kept_capped_but_not_applied(db) -> None:
    stored = receive_redirect(db, {"client": "aCL", "channels": "[aCH]", "junk": "x" * 10_000})
    assert "too long" in stored.error
    assert db["channels"].count == 0
    assert len(redirect_view(db, stored.id).raw_query) == MAX_QUERY_LENGTH + 1


# -- what a flood of redirects costs --------------------------------------------------------------------------


def _file_bytes(db) -> int:
    db.execute("pragma wal_checkpoint(truncate)")
    return db.execute("pragma page_count").fetchone()[0] * db.execute("pragma page_size").fetchone()[0]


def test_each_query_is_stored_once_not_again_in_an_index(db) -> None:
    # The old behaviour: a unique index on the query itself stored each query twice (forty 8 KB queries grew
    # the database by 705 KB).
    before = _file_bytes(db)
    queries = [f"client=big{number}&channels=[]&pad={'x' * 8000}" for number in range(40)]
    for query in queries:
        receive_redirect(db, query)
    grown = _file_bytes(db) - before
    # SQLite pages cost some; the old code grew by 2.6 times the queries, this by about 1.55 times.
    assert grown < 1.75 * sum(len(query) for query in queries), grown
    assert db["redirects"].count == 40
    assert receive_redirect(db, queries[0]).id == 1  # a reload still finds its row


def test_unreviewed_redirects_are_capped_per_source_and_in_all_and_the_drops_counted(db) -> None:
    limits = RedirectLimits(per_source=3, total=5)
    for number in range(5):
        receive_redirect(db, f"client=big{number}&channels=[]", source="203.0.113.9", limits=limits)
    for number in range(3):
        receive_redirect(db, f"client=other{number}&channels=[]", source="198.51.100.4", limits=limits)
    assert db["redirects"].count == 5
    assert unreviewed_sources(db) == [
        {"source": "203.0.113.9", "unreviewed": 3},
        {"source": "198.51.100.4", "unreviewed": 2},
    ]
    drops = {row["source"]: row for row in dropped_redirects(db)}
    assert drops["203.0.113.9"]["dropped"] == 2
    assert "3 unreviewed redirects from this source" in drops["203.0.113.9"]["why"]
    assert drops["198.51.100.4"]["dropped"] == 1
    assert "5 unreviewed redirects in all" in drops["198.51.100.4"]["why"]
    # A reload of a stored redirect is no new redirect: it finds its row, and nothing more is dropped.
    assert not receive_redirect(db, "client=big0&channels=[]", source="203.0.113.9", limits=limits).dropped
    assert {row["source"]: row["dropped"] for row in dropped_redirects(db)} == {"203.0.113.9": 2, "198.51.100.4": 1}


def test_a_bulk_discard_frees_the_cap_and_is_audited(db) -> None:
    limits = RedirectLimits(per_source=2, total=10)
    for number in range(2):
        receive_redirect(db, f"client=big{number}&channels=[]", source="203.0.113.9", limits=limits)
    receive_redirect(db, "client=aCL&channels=[a;b]", source="198.51.100.4", limits=limits)  # unreadable
    assert receive_redirect(db, "client=big9&channels=[]", source="203.0.113.9", limits=limits).dropped
    assert discard_unreviewed(db, actor=person("ana"), source="203.0.113.9") == 2
    assert held_count(db) == 0
    assert unreviewed_sources(db) == [{"source": "198.51.100.4", "unreviewed": 1}]
    assert not receive_redirect(db, "client=big9&channels=[]", source="203.0.113.9", limits=limits).dropped
    assert discard_unreviewed(db, actor=person("ana")) == 2
    audit = [(row["operator"], row["action"], row["detail"]) for row in db["audit"].rows]
    assert audit == [
        ("ana", "redirect_discard_bulk", "2 unreviewed redirect(s) from 203.0.113.9 discarded"),
        ("ana", "redirect_discard_bulk", "2 unreviewed redirect(s) from every source discarded"),
    ]


def test_the_held_count_is_every_waiting_row_and_pages_reach_them_all(db) -> None:
    for number in range(120):
        receive_redirect(db, f"client=big{number}&channels=[]", limits=RedirectLimits(per_source=500))
    assert held_count(db) == 120
    seen = [row["id"] for offset in range(0, 120, 50) for row in review_items(db, 50, offset=offset)]
    assert sorted(seen) == list(range(1, 121))


def test_redirects_stored_before_m017_are_found_by_their_hash_and_their_links_stay_bound(tmp_path) -> None:
    db = Database(sqlite3.connect(str(tmp_path / "old.db")))
    try:
        console_migrations.apply(db, stop_before="m017_redirects_stored_once_and_bounded")
        with db.atomic():
            db["io_links"].insert({"state": "s1", "operator": "ana", "created_at": "2026-01-01", "redirect_id": 1})
            db["redirects"].insert(
                {"id": 1, "raw_query": "client=aCL&channels=[aCH]&state=s1", "client_id": "aCL", "received_at": "x"}
            )
        console_migrations.apply(db)
        assert receive_redirect(db, "client=aCL&channels=[aCH]&state=s1").id == 1
        assert db["io_links"].get("s1")["client_id"] == "aCL"
        indexes = {index.name: index.columns for index in db["redirects"].indexes}
        assert ["raw_query"] not in indexes.values()
        assert indexes["idx_redirects_query_hash"] == ["query_hash"]
    finally:
        db.close()


def test_redirects_from_before_sources_were_recorded_are_listed_and_discarded_together(db) -> None:
    receive_redirect(db, "client=aCL&channels=[]")
    with db.atomic():
        db.execute("update redirects set source = null")
    assert unreviewed_sources(db) == [{"source": "not recorded", "unreviewed": 1}]
    assert discard_unreviewed(db, actor=person("ana"), source="not recorded") == 1
