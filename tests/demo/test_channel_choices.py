"""The Demo page offers the latest changed channels to act on, not every channel of a big database; a client's
portfolio still names every number of the client."""

from __future__ import annotations

from services.demo.controls import CHANNEL_CHOICES, client_numbers, recent_channels


def _channels(db, count: int) -> None:
    with db.atomic():
        db["clients"].insert({"id": "shopCL", "name": "Shop"})
        db.conn.executemany(
            "insert into channels (id, client_id, phone_number, status, updated_at) values (?, ?, ?, 'running', ?)",
            [(f"{index:04d}CH", "shopCL", f"+4915100{index:04d}", f"2026-01-01T00:{index // 60:02d}:{index % 60:02d}")
             for index in range(count)],
        )  # fmt: skip


def test_the_latest_changed_channels_are_offered_newest_first(db) -> None:
    _channels(db, CHANNEL_CHOICES + 20)
    offered = recent_channels(db)
    assert len(offered) == CHANNEL_CHOICES
    assert offered[0] == {
        "id": f"{CHANNEL_CHOICES + 19:04d}CH",
        "client_id": "shopCL",
        "phone_number": f"+4915100{CHANNEL_CHOICES + 19:04d}",
        "status": "running",
        "client_name": "Shop",
    }
    assert offered[-1]["id"] == "0020CH"


def test_a_clients_numbers_are_all_named_beyond_the_channels_offered(db) -> None:
    _channels(db, CHANNEL_CHOICES + 20)
    numbers = client_numbers(db, "shopCL")
    assert len(numbers) == CHANNEL_CHOICES + 20
    assert numbers[-1] == "+49151000000"
