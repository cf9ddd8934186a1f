"""A search on the Clients page reads the channels once, for what only their rows hold: what SQLite plans for it,
and how much work it does for each channel, whatever the search matches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlite_utils import Database

from services.events.console_search import (
    channel_field_clients,
    channel_field_clients_sql,
    client_condition,
    read_search,
)
from services.read_models.clients import client_search, count_clients, page_clients
from tests.support.console import console_db

CHANNELS_PER_CLIENT = 10
# A search finding few clients, counted and paged: ~26 steps per channel; one condition over the channels took ~73.
STEPS_PER_CHANNEL = 45
CLIENTS = 300
BUSINESSES = ("Coffee Corner", "Casa Olé", "Zuzu Bikes", "Nordic Cod")
SEARCHES = ["co", "cafe ole", "zz", "0151", "+49 151 0000042"]


def _seeded(path: Path) -> Path:
    with console_db(path) as db, db.atomic():
        db["clients"].insert_all(
            {"id": f"cl{i:05d}CL", "name": f"{BUSINESSES[i % len(BUSINESSES)]} {i}", "first_seen_at": f"{i:06d}"}
            for i in range(CLIENTS)
        )
        db["channels"].insert_all(
            {
                "id": f"ch{i:06d}CH",
                "client_id": f"cl{i // CHANNELS_PER_CLIENT:05d}CL",
                "phone_number": f"+49151{i:07d}",
                "phone_name": f"{BUSINESSES[i // CHANNELS_PER_CLIENT % len(BUSINESSES)]} shop {i}",
                "status": "running",
            }
            for i in range(CLIENTS * CHANNELS_PER_CLIENT)
        )
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seeded(tmp_path_factory.mktemp("client-search-reads") / "console.db")


def _plan(db: Database, sql: str, params: list) -> list[tuple[int, int, str]]:
    return [(row[0], row[1], row[3]) for row in db.execute(f"explain query plan {sql}", params)]


@pytest.mark.parametrize("search", SEARCHES)
def test_the_scan_of_the_channels_probes_no_list_for_each_channel(seeded, search) -> None:
    # One condition over the channels probed the lists of names the search finds (channel names, client names,
    # clients by name) again for each of the channels: at 100,000 channels that was most of a search's time.
    read = read_search(search, "DE")
    with console_db(seeded) as db:
        channel_side = _plan(db, *channel_field_clients_sql(read))
        condition, params = client_condition(read, channel_field_clients(db, read))
        client_side = _plan(db, f"select id from clients where {condition}", params)
    # The channels are scanned once, for what only their rows hold, with the numbers' index lookups beside it...
    assert [detail for _, _, detail in channel_side].count("SCAN channels") == 1, channel_side
    assert not [detail for _, _, detail in channel_side if "names" in detail or "clients" in detail], channel_side
    # ... and the clients' condition reads no channel but through an index.
    assert not [detail for _, _, detail in client_side if detail.startswith("SCAN channels")], client_side


@contextmanager
def _steps(db: Database) -> Iterator[list[int]]:
    """Counts SQLite's virtual machine steps, a hundred at a time, while the block runs."""
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0

    db.conn.set_progress_handler(count, 100)
    try:
        yield counted
    finally:
        db.conn.set_progress_handler(None, 100)


@pytest.mark.parametrize("search", ["cafe ole", "zz"])
def test_a_name_search_costs_a_few_steps_per_channel(seeded, search) -> None:
    with console_db(seeded) as db, _steps(db) as counted:
        count_clients(db, search, region="DE")
        page_clients(db, search, region="DE")
    steps_per_channel = counted[0] * 100 / (CLIENTS * CHANNELS_PER_CLIENT)
    assert steps_per_channel < STEPS_PER_CHANNEL, steps_per_channel


def test_the_search_finds_what_each_way_of_matching_finds(seeded) -> None:
    with console_db(seeded) as db:
        assert count_clients(db, "zuzu", region="DE") == CLIENTS // len(BUSINESSES)
        # A channel's display name alone: "shop" is in no client's name.
        assert count_clients(db, "shop 2999", region="DE") == 1
        # A number's middle, and a number in full, each find the one client of the channel.
        assert [row.id for row in page_clients(db, "+49 151 0000042", region="DE")] == ["cl00004CL"]
        assert count_clients(db, "ch000123", region="DE") == 1
        # Accents folded by the names' index: "casa ole" finds "Casa Olé", not through a LIKE.
        assert count_clients(db, "casa ole", region="DE") == CLIENTS // len(BUSINESSES)


@pytest.mark.parametrize("search", ["cafe ole", "zz", "0151", "ch000123"])
def test_the_pages_count_and_its_page_share_one_scan_of_the_channels(seeded, search) -> None:
    # The Clients page counts what a search finds, then reads its page: each statement scanned the channels
    # (about 0.65 of the steps now, from one scan and a list of clients read twice).
    with console_db(seeded) as db:
        with _steps(db) as each_scans:
            counted, paged = count_clients(db, search, region="DE"), page_clients(db, search, region="DE")
        with _steps(db) as one_scan:
            found = client_search(db, search, region="DE")
            assert (count_clients(db, found), page_clients(db, found)) == (counted, paged)
    assert one_scan[0] < 0.8 * each_scans[0], (one_scan[0], each_scans[0])
