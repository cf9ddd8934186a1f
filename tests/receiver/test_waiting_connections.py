"""Which idle connection gives way when the receiver is full: the oldest of the address that holds the most."""

from __future__ import annotations

from typing import Any

from services.receiver.connections import WaitingConnections


def waiting(**by_address: int) -> tuple[WaitingConnections, dict[str, list[Any]]]:
    registry = WaitingConnections()
    made: dict[str, list[Any]] = {}
    for address, count in by_address.items():
        for _ in range(count):
            connection = object()
            registry.add(address, connection)  # type: ignore[arg-type]
            made.setdefault(address, []).append(connection)
    return registry, made


def test_the_address_holding_the_most_gives_its_oldest() -> None:
    registry, made = waiting(**{"198.51.100.1": 2, "203.0.113.66": 5, "198.51.100.2": 1})
    assert registry.oldest_of_busiest_address(spare=made["198.51.100.1"][0]) is made["203.0.113.66"][0]


def test_the_new_connection_itself_is_never_chosen() -> None:
    registry, made = waiting(**{"203.0.113.66": 1})
    assert registry.oldest_of_busiest_address(spare=made["203.0.113.66"][0]) is None
    registry, made = waiting(**{"203.0.113.66": 2, "198.51.100.1": 2})
    newest = made["203.0.113.66"][1]
    # Its own address counts one less: the other address now holds more.
    assert registry.oldest_of_busiest_address(spare=newest) is made["198.51.100.1"][0]


def test_a_connection_that_stops_waiting_is_no_longer_chosen() -> None:
    registry, made = waiting(**{"203.0.113.66": 2})
    first, second = made["203.0.113.66"]
    registry.discard("203.0.113.66", first)
    assert registry.oldest_of_busiest_address(spare=object()) is second  # type: ignore[arg-type]
    registry.discard("203.0.113.66", second)
    assert registry.oldest_of_busiest_address(spare=object()) is None  # type: ignore[arg-type]
