"""Ports for the servers a test starts: never one handed out before in this process, even when the kernel offers it
again (the probe's socket is closed at once, so it may)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from tests.support import servers


class _Probe:
    """A socket whose bind(0) gets the ports the kernel is made to offer, in turn."""

    offered: ClassVar[list[int]] = []

    def __init__(self, *_args: object) -> None:
        self._port = 0

    def __enter__(self) -> _Probe:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def bind(self, _address: tuple[str, int]) -> None:
        self._port = _Probe.offered.pop(0)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self._port)


def test_a_port_offered_twice_is_handed_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "_HANDED_OUT", set())
    monkeypatch.setattr(servers.socket, "socket", _Probe)
    _Probe.offered = [47053, 47053, 50357]
    assert [servers.free_port(), servers.free_port()] == [47053, 50357]


def test_ports_are_real_and_distinct() -> None:
    ports = [servers.free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= port <= 65535 for port in ports)
