"""Links handed out: a new state per link bound to its operator, the sandbox hub, IO signatures, refusals,
and a link's status over time."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlite_utils import Database

from services.migrations import console_migrations
from services.onboarding.io_link import InvalidLinkParameter
from services.onboarding.links import (
    LinkNotOpen,
    LinkRequest,
    close_link,
    for_next_client,
    get_link,
    hand_out_link,
    link_seconds_left,
    link_status,
)
from services.onboarding.redirect_store import receive_redirect
from tests.support.people import person

SECRET = "platform-secret-for-tests"
CONSOLE = "https://console.example.test"


def test_each_link_gets_a_new_state_bound_to_its_operator(db, link_for) -> None:
    first, second = link_for("ana"), link_for("ben")
    assert first.state != second.state
    assert len(first.state) >= 20
    assert get_link(db, first.state)["operator"] == "ana"
    assert get_link(db, second.state)["operator"] == "ben"
    for link in (first, second):
        query = parse_qs(urlsplit(link.url).query)
        assert query["state"] == [link.state]
        assert query["redirect_url"] == ["http://localhost:8501/landing"]
        assert get_link(db, link.state)["url"] == link.url


def test_the_sandbox_link_points_at_the_sandbox_hub(link_for) -> None:
    assert link_for().url.startswith("http://127.0.0.1:8503/dashboard/app/abcPA/permissions?redirect_url=")
    assert link_for(version="v2").url.startswith("http://127.0.0.1:8503/onboarding/abcPA?")


def test_a_signed_link_points_at_the_console_and_carries_no_signature(db) -> None:
    request = LinkRequest(number="+49 151 1", params={"redirect_url": "https://x.test/landing", "lang": "de"})
    links = [
        hand_out_link(db, request, partner_id="abcPA", actor=person("ana"), signing_secret=SECRET, console_url=CONSOLE)
        for _ in range(2)
    ]
    for link in links:
        assert link.url == f"{CONSOLE}/connect/{link.token}"
        assert len(link.token) >= 22
        assert link.io_timestamp is None
        stored = get_link(db, link.state)
        assert stored["token"] == link.token
        assert stored["url"] == link.url
        assert json.loads(stored["params"]) == {
            "number": "+49 151 1",
            "redirect_url": "https://x.test/landing",
            "lang": "de",
        }
        assert stored["io_timestamp"] is None
        assert (stored["env"], stored["version"], stored["clicks"]) == ("prod", "v1", 0)
    assert links[0].token != links[1].token


def test_a_link_expires_after_its_own_days(db) -> None:
    made = datetime(2026, 1, 2, 12, tzinfo=UTC)
    link = hand_out_link(
        db,
        LinkRequest(),
        partner_id="abcPA",
        actor=person("ana"),
        signing_secret=SECRET,
        console_url=CONSOLE,
        link_days=14,
        now=made,
    )
    row = get_link(db, link.state)
    assert link_status(row, made + timedelta(days=13, hours=23)) == "open"
    assert link_seconds_left(row, made + timedelta(days=13, hours=23)) == 3600
    assert link_status(row, made + timedelta(days=14)) == "expired"


def test_a_signed_link_needs_the_console_address(db) -> None:
    with pytest.raises(ValueError, match="CONSOLE_PUBLIC_URL"):
        hand_out_link(db, LinkRequest(), partner_id="abcPA", actor=person("ana"), signing_secret=SECRET)
    assert db["io_links"].count == 0


def test_an_unsigned_link_is_the_hub_link_itself(db) -> None:
    link = hand_out_link(db, LinkRequest(), partner_id="abcPA", actor=person("ana"), console_url=CONSOLE)
    assert link.url.startswith("https://hub.360dialog.com/dashboard/app/abcPA/permissions?state=")
    assert link.token is None
    assert get_link(db, link.state)["token"] is None


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
        hand_out_link(db, LinkRequest(params=params), partner_id="abcPA", actor=person("ana"))
    assert db["io_links"].count == 0


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


def test_a_link_handed_out_before_keeps_its_day(tmp_path) -> None:
    old = Database(sqlite3.connect(str(tmp_path / "old.db")))
    try:
        console_migrations.apply(old, stop_before="m027_links_signed_at_each_click")
        with old.atomic():
            old["io_links"].insert(
                {"state": "s1", "operator": "ana", "created_at": "2026-01-02T12:00:00.000000+00:00", "url": "u"}
            )
        console_migrations.apply(old)
        link = get_link(old, "s1")
        assert link["clicks"] == 0
        assert link["token"] is None
        made = datetime(2026, 1, 2, 12, tzinfo=UTC)
        assert link_status(link, made + timedelta(hours=23, minutes=59)) == "open"
        assert link_status(link, made + timedelta(hours=24)) == "expired"
    finally:
        old.close()


def test_the_next_clients_request_names_no_client() -> None:
    last = LinkRequest(
        env="staging",
        version="v2",
        number="+34 600 999 000",
        params={"redirect_url": "https://x.test/landing", "name": "Bar", "email": "a@b.test", "partner": "crm-1",
                "client_id": "aCL", "connect_client_user": "true", "preverified_phone_number_id": "1", "lang": "de"},
        hub_url="https://test-hub.example.net/dashboard/app",
    )  # fmt: skip
    assert for_next_client(last) == LinkRequest(
        env="staging",
        version="v2",
        params={"redirect_url": "https://x.test/landing", "lang": "de"},
        hub_url="https://test-hub.example.net/dashboard/app",
    )


def test_a_closed_link_is_closed_and_a_used_one_cannot_be(db) -> None:
    first = hand_out_link(db, LinkRequest(), partner_id="demoPA", actor=person("ana"))
    close_link(db, first.state, actor=person("ben"))
    close_link(db, first.state, actor=person("ben"))  # twice is once
    row = get_link(db, first.state)
    assert (link_status(row), row["closed_by"]) == ("closed", "ben")
    assert db["audit"].count_where("action = 'close_link'") == 1
    used = hand_out_link(db, LinkRequest(), partner_id="demoPA", actor=person("ana"))
    db["channels"].insert({"id": "aCH"}, alter=True)
    receive_redirect(db, f"client=aCL&channels=[aCH]&state={used.state}")
    with pytest.raises(LinkNotOpen):
        close_link(db, used.state, actor=person("ben"))
    with pytest.raises(LinkNotOpen):
        close_link(db, "no-such-state", actor=person("ben"))
