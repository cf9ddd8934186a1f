"""Redirects received: stored raw then applied, matched to their link by state, reload idempotence, refused
redirects kept with their reason, revocations, and the next step per channel."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.channels.projection import get_channel, upsert_channel
from services.keys.generation import key_status
from services.onboarding.links import LinkRequest, get_link, hand_out_link, link_history
from services.onboarding.redirect import MAX_QUERY_LENGTH
from services.onboarding.redirects import (
    channel_next_steps,
    next_step,
    receive_redirect,
    recent_redirects,
    redirect_for_state,
    redirect_view,
)
from tests.support.console import console_db


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
    known(db, "aCH", client_id=None)
    known(db, "bCH")
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
        db["io_links"].update(link.state, {"created_at": "2020-01-01T00:00:00+00:00"})
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


def test_revoked_channels_are_marked_and_their_stored_keys_made_unusable(db, link_for) -> None:
    upsert_channel(db, "cCH", {"client_id": "aCL", "status": "running"}, source="test")
    add_key(db, "cCH", status="revoked")
    add_key(db, "cCH", status="active")
    add_key(db, "cCH", status=None, outcome="failed")
    add_key(db, "aCH", status="active")
    known(db, "aCH")
    stored = receive_redirect(db, "client=aCL&channels=[aCH]&revoked=[cCH]&state=" + link_for().state)
    assert stored.keys_marked_unusable == 1
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


@pytest.mark.parametrize(
    ("channel", "key", "expected"),
    [
        (None, "none", "waiting for running (now: not reported yet)"),
        ({"status": "pending", "revoked": 0}, "none", "waiting for running (now: pending)"),
        ({"status": "ready", "revoked": 0}, "none", "waiting for running (now: ready)"),
        ({"status": "running", "revoked": 0}, "none", "key can be generated"),
        ({"status": "running", "revoked": 0}, "revoked", "key can be generated"),
        ({"status": "running", "revoked": 0}, "active", "key exists"),
        ({"status": "running", "revoked": 0}, "unknown", "a key request's result is not known yet"),
        ({"status": "running", "revoked": 1}, "none", "permission withdrawn; no key can be generated"),
        ({"status": "running", "revoked": 1}, "unusable", "permission withdrawn; its stored key is marked unusable"),
    ],
)
def test_next_step_per_channel(channel: dict | None, key: str, expected: str) -> None:
    assert next_step(channel, key).startswith(expected)


def test_two_tabs_landing_together_apply_the_redirect_once(db_path: Path) -> None:
    with console_db(db_path) as database:  # made and migrated before the tabs race
        known(database, "aCH", "cCH")
        state = hand_out_link(database, LinkRequest(), partner_id="abcPA", operator="ana").state
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
