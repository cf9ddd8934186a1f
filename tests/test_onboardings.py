"""Links handed out and redirects received: storage, state matching, reload idempotence, revocations."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from services.channels.projection import get_channel, upsert_channel
from services.keys.generation import key_status
from services.onboarding.io_link import InvalidLinkParameter
from services.onboarding.links import (
    LinkRequest,
    get_link,
    hand_out_link,
    link_history,
    link_seconds_left,
    link_status,
    sandbox_hub_url,
)
from services.onboarding.redirects import (
    channel_next_steps,
    next_step,
    receive_redirect,
    recent_redirects,
    redirect_for_state,
    redirect_view,
)
from services.sandbox.signing import io_signature_valid
from services.store import open_console_db

SECRET = "platform-secret-for-tests"


@pytest.fixture
def db() -> Iterator:
    database = open_console_db(":memory:")
    yield database
    database.close()


def count(db, table: str) -> int:
    return db[table].count


def link_for(db, operator: str = "ana", **kwargs):
    request = LinkRequest(
        env="sandbox",
        hub_url=sandbox_hub_url("http://127.0.0.1:8503"),
        params={"redirect_url": "http://localhost:8501/landing"},
        **kwargs,
    )
    return hand_out_link(db, request, partner_id="abcPA", operator=operator)


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


# -- links -----------------------------------------------------------------------------------------


def test_each_link_gets_a_new_state_bound_to_its_operator(db) -> None:
    first, second = link_for(db, "ana"), link_for(db, "ben")
    assert first.state != second.state
    assert len(first.state) >= 20
    assert get_link(db, first.state)["operator"] == "ana"
    assert get_link(db, second.state)["operator"] == "ben"
    for link in (first, second):
        query = parse_qs(urlsplit(link.url).query)
        assert query["state"] == [link.state]
        assert query["redirect_url"] == ["http://localhost:8501/landing"]
        assert get_link(db, link.state)["url"] == link.url


def test_the_sandbox_link_points_at_the_sandbox_hub(db) -> None:
    assert link_for(db).url.startswith("http://127.0.0.1:8503/dashboard/app/abcPA/permissions?redirect_url=")
    assert link_for(db, version="v2").url.startswith("http://127.0.0.1:8503/onboarding/abcPA?")


def test_a_signed_link_carries_a_fresh_valid_signature_that_is_not_stored_apart(db) -> None:
    request = LinkRequest(number="+49 151 1", params={"redirect_url": "https://x.test/landing", "lang": "de"})
    links = [hand_out_link(db, request, partner_id="abcPA", operator="ana", signing_secret=SECRET) for _ in range(2)]
    for link in links:
        query = parse_qs(urlsplit(link.url).query)
        assert int(query["io_timestamp"][0]) == link.io_timestamp
        assert io_signature_valid("abcPA", link.io_timestamp, query["io_signature"][0], SECRET, "hex")
        assert urlsplit(link.url).query.startswith("number=%2B49%20151%201&redirect_url=")
        stored = get_link(db, link.state)
        assert json.loads(stored["params"]) == {
            "number": "+49 151 1",
            "redirect_url": "https://x.test/landing",
            "lang": "de",
        }
        assert stored["io_timestamp"] == link.io_timestamp
        assert (stored["env"], stored["version"]) == ("prod", "v1")
    assert links[0].url != links[1].url


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"state": "mine"}, "sets state itself"),
        ({"io_signature": "x"}, "sets io_signature itself"),
        ({"number": "1"}, "number is its own field"),
        ({"colour": "red"}, "does not accept the parameter"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
    ],
)
def test_a_bad_request_stores_nothing(db, params: dict, message: str) -> None:
    with pytest.raises(InvalidLinkParameter, match=message):
        hand_out_link(db, LinkRequest(params=params), partner_id="abcPA", operator="ana")
    assert count(db, "io_links") == 0


def test_link_status_open_redirected_expired() -> None:
    now = datetime(2026, 1, 2, 12, tzinfo=UTC)
    fresh = {"created_at": (now - timedelta(hours=23, minutes=59)).isoformat(), "used_at": None}
    old = {"created_at": (now - timedelta(hours=24)).isoformat(), "used_at": None}
    assert link_status(fresh, now) == "open"
    assert link_status(old, now) == "expired"
    assert link_status({**old, "used_at": now.isoformat()}, now) == "redirected"
    signed_long_ago = {**fresh, "io_timestamp": int((now - timedelta(days=2)).timestamp())}
    assert link_status(signed_long_ago, now) == "expired"
    assert link_seconds_left(fresh, now) == 60
    assert link_seconds_left(old, now) == 0


# -- redirects -------------------------------------------------------------------------------------


def test_a_redirect_is_stored_raw_then_applied(db) -> None:
    stored = receive_redirect(db, "client=aCL&channels=%5BaCH%2CbCH%5D")
    assert stored.is_new
    assert stored.error is None
    assert stored.state_match == "no state"
    row = db["redirects"].get(stored.id)
    assert row["raw_query"] == "client=aCL&channels=%5BaCH%2CbCH%5D"
    assert (row["client_id"], json.loads(row["channels"]), json.loads(row["revoked"])) == ("aCL", ["aCH", "bCH"], [])
    assert get_channel(db, "aCH")["permission"] == "granted"
    assert get_channel(db, "bCH")["client_id"] == "aCL"


def test_a_reload_finds_the_same_row_and_applies_nothing_twice(db) -> None:
    link = link_for(db)
    query = {"client": "aCL", "channels": "[aCH]", "state": link.state}
    first = receive_redirect(db, query)
    updated = get_channel(db, "aCH")["updated_at"]
    again = receive_redirect(db, dict(query))
    assert (again.id, again.is_new, again.state_match) == (first.id, False, "matched")
    assert count(db, "redirects") == 1
    assert get_channel(db, "aCH")["updated_at"] == updated


def test_the_redirect_matches_its_link_by_state(db) -> None:
    link = link_for(db, "ana")
    other = link_for(db, "ben")
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


def test_a_second_redirect_with_a_used_state_is_flagged(db) -> None:
    link = link_for(db)
    receive_redirect(db, f"client=aCL&channels=[aCH]&state={link.state}")
    replay = receive_redirect(db, f"client=evilCL&channels=[zCH]&state={link.state}")
    assert replay.state_match == "already used"
    assert redirect_view(db, replay.id).link_operator is None


def test_unknown_and_expired_states(db) -> None:
    assert receive_redirect(db, "client=aCL&channels=[aCH]&state=nobody").state_match == "unknown state"
    link = link_for(db)
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
    assert count(db, "channels") == 0
    assert receive_redirect(db, "client=aCL&channels=[aCH;drop]").id == stored.id
    assert count(db, "redirects") == 1
    assert recent_redirects(db)[0]["error"] == stored.error


def test_revoked_channels_are_marked_and_their_stored_keys_made_unusable(db) -> None:
    upsert_channel(db, "cCH", {"client_id": "aCL", "status": "running"}, source="test")
    add_key(db, "cCH", status="revoked")
    add_key(db, "cCH", status="active")
    add_key(db, "cCH", status=None, outcome="failed")
    add_key(db, "aCH", status="active")
    stored = receive_redirect(db, "client=aCL&channels=[aCH]&revoked=[cCH]")
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


def test_two_tabs_landing_together_apply_the_redirect_once(tmp_path: Path) -> None:
    path = tmp_path / "console.db"
    open_console_db(path).close()
    barrier = threading.Barrier(4)
    results = []

    def land() -> None:
        database = open_console_db(path)
        try:
            barrier.wait()
            results.append(receive_redirect(database, "client=aCL&channels=[aCH]&revoked=[cCH]"))
        finally:
            database.close()

    threads = [threading.Thread(target=land) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result.is_new for result in results) == [False, False, False, True]
    assert len({result.id for result in results}) == 1
    database = open_console_db(path)
    try:
        assert database["redirects"].count == 1
        assert database["audit"].count == 1
    finally:
        database.close()


def test_a_flood_through_query_params_is_kept_but_not_applied(db) -> None:
    stored = receive_redirect(db, {"client": "aCL", "channels": "[aCH]", "junk": "x" * 10_000})
    assert "too long" in stored.error
    assert db["channels"].count == 0
    assert len(redirect_view(db, stored.id).raw_query) > 10_000
