"""One search on Events, Channels and Clients: a number in any spelling (with +, with 00, as plain international
digits, national), names with accents and case folded and by their words' starts, and a channel's events found
by its number even when they do not carry it."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from services.channels.projection import ensure_client, upsert_channel
from services.events.store import EventFilter, count_events, page_events
from services.events.webhook import normalise_event
from services.read_models.channel_list import ChannelFilter, count_channels, page_channels
from services.read_models.clients import count_clients, page_clients
from tests.support.events import save_events

NUMBER_FORMS = [
    "+34 600 111 222",
    "+34600111222",
    "0034 600-111-222",
    "(0034) 600.111.222",
    "34600111222",
    "34 600 111 222",
    "600111222",
    "600 111 222",
    "600-111-222",
]


def _event(index: int, event: str, data: dict) -> dict:
    return {"id": f"ev{index}", "event": event, "data": data}


@pytest.fixture
def cafe(db: Database) -> Database:
    """Café Olé with one Spanish number, and its five events: only two of them spell the number out."""
    ensure_client(db, "cafeCL", name="Café Olé")
    ensure_client(db, "barCL", name="Bar Tapas")
    with db.atomic():
        upsert_channel(db, "ole1CH", {"client_id": "cafeCL", "phone_number": "+34 600 111 222"}, source="test")
        upsert_channel(
            db, "bar1CH", {"client_id": "barCL", "phone_number": "+31 6 3439217", "phone_name": "Tapas"}, source="test"
        )
        # Same national number in another country: a national search finds both, an international one only its own.
        upsert_channel(db, "fr1CH", {"client_id": "barCL", "phone_number": "+33 600111222"}, source="test")
    bodies = [
        _event(1, "channel_created", {"id": "ole1CH", "client_id": "cafeCL"}),
        _event(2, "channel_submitted", {"id": "ole1CH", "setup_info": {"phone_number": "+34 600 111 222"}}),
        _event(3, "channel_status_running", {"id": "ole1CH", "status": "running"}),
        _event(4, "account_violation", {"phone_number": "34600111222"}),
        _event(5, "channel_ready", {"id": "ole1CH"}),
        _event(6, "channel_created", {"id": "bar1CH", "client_id": "barCL", "note": "unrelated"}),
    ]
    save_events(db, [normalise_event(body) for body in bodies], headers={}, verdict="ok")
    return db


def _event_ids(db: Database, text: str) -> list[int]:
    return [row["id"] for row in page_events(db, EventFilter(search=text))]


def _channel_ids(db: Database, text: str) -> list[str]:
    return sorted(row["id"] for row in page_channels(db, ChannelFilter(search=text)))


def _client_ids(db: Database, text: str) -> list[str]:
    return [row.id for row in page_clients(db, text)]


@pytest.mark.parametrize("typed", NUMBER_FORMS)
def test_every_spelling_of_a_number_finds_its_channel(cafe, typed: str) -> None:
    found = _channel_ids(cafe, typed)
    assert "ole1CH" in found
    assert "bar1CH" not in found


@pytest.mark.parametrize("typed", ["+34 600 111 222", "0034 600-111-222", "34600111222"])
def test_an_international_spelling_finds_that_country_only(cafe, typed: str) -> None:
    assert _channel_ids(cafe, typed) == ["ole1CH"]
    assert count_channels(cafe, ChannelFilter(search=typed)) == 1


def test_a_national_number_finds_it_in_any_country(cafe) -> None:
    assert _channel_ids(cafe, "600111222") == ["fr1CH", "ole1CH"]
    # With the trunk prefix of the default region, too.
    assert _channel_ids(cafe, "0600 111 222") == ["fr1CH", "ole1CH"]


@pytest.mark.parametrize("typed", NUMBER_FORMS)
def test_every_spelling_of_a_number_finds_its_client(cafe, typed: str) -> None:
    assert "cafeCL" in _client_ids(cafe, typed)
    assert count_clients(cafe, typed) >= 1


@pytest.mark.parametrize("typed", NUMBER_FORMS)
def test_a_number_finds_all_five_events_of_its_channel(cafe, typed: str) -> None:
    # Events 1, 3 and 5 carry only the channel id; 4 (an account alert) only the number; 6 is another channel's.
    assert _event_ids(cafe, typed) == [5, 4, 3, 2, 1]
    assert count_events(cafe, EventFilter(search=typed)) == 5


def test_a_number_search_still_narrows_by_type_and_channel(cafe) -> None:
    of_type = EventFilter(search="0034600111222", event_type="channel_ready")
    assert [row["id"] for row in page_events(cafe, of_type)] == [5]
    of_channel = EventFilter(search="600111222", channel_id="ole1CH")
    assert [row["id"] for row in page_events(cafe, of_channel)] == [5, 3, 2, 1]


@pytest.mark.parametrize("typed", ["Cafe", "cafe", "CAFÉ", "cafe ole", "Café Olé", "caf", "cafe o"])
def test_names_are_found_with_accents_and_case_folded_and_by_their_starts(cafe, typed: str) -> None:
    assert _client_ids(cafe, typed) == ["cafeCL"]
    assert _channel_ids(cafe, typed) == ["ole1CH"]
    # The events of the client's channels, and its own, whether or not a payload names it.
    assert _event_ids(cafe, typed) == [5, 3, 2, 1]


def test_a_display_name_is_found_folded_too(cafe) -> None:
    assert _channel_ids(cafe, "tapas") == ["bar1CH", "fr1CH"]  # the display name, and the client's name
    assert _client_ids(cafe, "TAPA") == ["barCL"]


def test_a_name_typed_as_fts_syntax_is_taken_literally(cafe) -> None:
    for typed in ['caf" OR "bar', "NEAR(cafe ole)", "cafe*", "-cafe", "cafe AND", "^cafe"]:
        page_channels(cafe, ChannelFilter(search=typed))
        page_clients(cafe, typed)
        page_events(cafe, EventFilter(search=typed))
    assert _client_ids(cafe, "x" * 5000) == []


def test_part_of_a_number_still_finds_the_numbers_holding_it(cafe) -> None:
    assert _channel_ids(cafe, "111 222") == ["fr1CH", "ole1CH"]


def test_a_number_search_pages_through_every_event_of_its_channel(db: Database) -> None:
    with db.atomic():
        upsert_channel(db, "oleCH", {"phone_number": "+34 600 111 222"}, source="test")
    # Every third event spells the number out; the others name the channel alone; a few are another channel's.
    bodies = [
        _event(index, "channel_created", {"id": "oleCH", **({"phone_number": "34600111222"} if index % 3 else {})})
        if index % 10
        else _event(index, "channel_created", {"id": "otherCH"})
        for index in range(1, 131)
    ]
    save_events(db, [normalise_event(body) for body in bodies], headers={}, verdict="ok")
    expected = [row["id"] for row in page_events(db, EventFilter(channel_id="oleCH"), limit=500)]
    assert len(expected) == 117
    seen: list[int] = []
    before = None
    while True:
        rows = page_events(db, EventFilter(search="0034 600 111 222"), limit=50, before=before)
        if not rows:
            break
        seen += [row["id"] for row in rows]
        before = (rows[-1]["received_at"], rows[-1]["id"])
    assert seen == expected
    assert count_events(db, EventFilter(search="600111222")) == 117
    assert count_events(db, EventFilter(search="600111222"), cap=40) == 40
