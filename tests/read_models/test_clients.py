"""Clients with their numbers: counts per status, search by name, id or a number in any spelling, pages read
through indexes at 10,000 clients, and one client's channels, redirects and timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from services.channels.projection import ensure_client, upsert_channel
from services.events.webhook import normalise_event
from services.onboarding.links import LinkRequest, hand_out_link
from services.onboarding.redirect_store import receive_redirect
from services.read_models.clients import (
    client_channels,
    client_redirects,
    client_summary,
    client_timeline,
    count_clients,
    page_clients,
)
from tests.support.events import save_events
from tests.support.people import person


def client(db: Database, client_id: str, name: str | None, first_seen: str) -> None:
    ensure_client(db, client_id, name=name)
    with db.atomic():
        db["clients"].update(client_id, {"first_seen_at": first_seen})


def channel(db: Database, channel_id: str, client_id: str, **fields: object) -> None:
    with db.atomic():
        upsert_channel(db, channel_id, {"client_id": client_id, **fields}, source="test")


@pytest.fixture
def two_clients(db: Database) -> Database:
    client(db, "cafeCL", "Cafe Olé", "2026-11-02T10:00:00.000000+00:00")
    client(db, "barCL", None, "2026-11-03T10:00:00.000000+00:00")
    for index, status in enumerate(("running", "running", "ready", "pending", None)):
        channel(db, f"c{index}CH", "cafeCL", status=status, phone_number=f"+34 600 111 22{index}")
    channel(db, "b0CH", "barCL", status="submitted", phone_number="+31 6 3439217", phone_name="Bar Tapas")
    return db


def test_a_page_counts_each_clients_channels_by_status_newest_client_first(two_clients) -> None:
    bar, cafe = page_clients(two_clients)
    assert (bar.id, bar.label, bar.channels, bar.by_status) == ("barCL", "client barCL", 1, {"submitted": 1})
    assert (cafe.label, cafe.channels) == ("Cafe Olé (cafeCL)", 5)
    assert cafe.by_status == {"running": 2, "ready": 1, "pending": 1, "unknown": 1}
    assert cafe.numbers == ("+34 600 111 220", "+34 600 111 221", "+34 600 111 222")
    assert cafe.first_seen_at == "2026-11-02T10:00:00.000000+00:00"
    assert count_clients(two_clients) == 2
    assert [row.id for row in page_clients(two_clients, limit=1, offset=1)] == ["cafeCL"]


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("cafe", ["cafeCL"]),
        ("barCL", ["barCL"]),
        ("Tapas", ["barCL"]),  # the display name of one of its numbers
        ("c3CH", ["cafeCL"]),  # one of its channel ids
        ("+3163439217", ["barCL"]),  # a number written without its spaces
        ("31 6 34 39 217", ["barCL"]),
        ("600111", ["cafeCL"]),
        ("%", []),
        ("nobody", []),
    ],
)
def test_search_by_name_id_or_a_number_in_any_spelling(two_clients, search: str, found: list[str]) -> None:
    assert [row.id for row in page_clients(two_clients, search)] == found
    assert count_clients(two_clients, search) == len(found)


def test_a_client_only_channels_name_is_still_shown(db) -> None:
    channel(db, "xCH", "ghostCL", status="ready")
    with db.atomic():
        db.execute("delete from clients")
    ghost = client_summary(db, "ghostCL")
    assert (ghost.label, ghost.channels, ghost.by_status) == ("client ghostCL", 1, {"ready": 1})
    assert client_summary(db, "noneCL") is None


def plan(db: Database, sql: str, params: list) -> str:
    return " | ".join(row[3] for row in db.execute(f"explain query plan {sql}", params).fetchall())


def test_ten_thousand_clients_are_paged_through_indexes(db) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.atomic():
        db["clients"].insert_all(
            {
                "id": f"{index:05d}CL",
                "name": f"Shop {index}",
                "first_seen_at": (start + timedelta(minutes=index)).isoformat(),
            }
            for index in range(10_000)
        )
        db["channels"].insert_all(
            {"id": f"{index:05d}CH", "client_id": f"{index:05d}CL", "status": "running", "phone_number": f"+49 {index}"}
            for index in range(10_000)
        )
    assert count_clients(db) == 10_000
    page = page_clients(db, limit=50, offset=150 * 50)
    assert [row.id for row in page[:2]] == ["02499CL", "02498CL"]
    assert all(row.by_status == {"running": 1} for row in page)
    page_plan = plan(db, "select id from clients order by first_seen_at desc, id desc limit 50 offset 7500", [])
    assert "idx_clients_first_seen_at_id" in page_plan
    assert "TEMP B-TREE" not in page_plan
    assert "idx_channels_client_id" in plan(
        db, "select status, count(*) from channels where client_id in (?, ?) group by status", ["a", "b"]
    )
    assert "idx_redirects_client_id_id" in plan(
        db, "select * from redirects where client_id = ? order by id desc limit 50", ["a"]
    )


def test_one_client_its_channels_redirects_and_timeline(two_clients) -> None:
    db = two_clients
    link = hand_out_link(db, LinkRequest(), partner_id="demoPA", actor=person("ana"))
    receive_redirect(db, f"client=cafeCL&channels=[c0CH,c1CH]&state={link.state}")
    save_events(
        db,
        [
            normalise_event({"id": "e1", "event": "client_created", "data": {"id": "cafeCL", "name": "Cafe Olé"}}),
            normalise_event({"id": "e2", "event": "channel_status_running", "data": {"id": "c0CH"}}),
            normalise_event({"id": "e3", "event": "channel_status_running", "data": {"id": "b0CH"}}),
        ],
        headers={},
        verdict="ok",
    )
    channels = client_channels(db, "cafeCL")
    assert {entry.label.channel_id for entry in channels} == {f"c{index}CH" for index in range(5)}
    first = next(entry for entry in channels if entry.label.channel_id == "c0CH")
    assert (first.label.text, first.status, first.key_status) == ("+34 600 111 220 (Cafe Olé)", "running", "none")
    (redirect,) = client_redirects(db, "cafeCL")
    assert redirect["client"] == "Cafe Olé (cafeCL)"
    assert redirect["channels"] == "c0CH (+34 600 111 220), c1CH (+34 600 111 221)"
    assert client_redirects(db, "barCL") == []
    timeline = client_timeline(db, "cafeCL", channels)
    told = [(entry.channel, entry.what, entry.who) for entry in timeline]
    # Each redirect once, naming its numbers; the client's own webhooks; each channel's webhooks, named.
    assert told.count(("", "onboarding link handed out", "ana")) == 1
    assert (
        "+34 600 111 220 (Cafe Olé), +34 600 111 221 (Cafe Olé)",
        "redirect (not applied) claims: permission granted",
        "client",
    ) in told
    assert ("", "webhook client_created", "360dialog") in told
    assert ("+34 600 111 220 (Cafe Olé)", "webhook channel_status_running", "360dialog") in told
    assert not any("b0CH" in entry.detail or "Tapas" in entry.channel for entry in timeline)
    assert [entry.at for entry in timeline] == sorted((entry.at for entry in timeline), reverse=True)
