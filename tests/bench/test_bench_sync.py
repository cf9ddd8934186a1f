"""The sync benchmark's harness: its stub pages the Partner API as the client expects, and a small run syncs every
channel, then finds exactly the ones it changed (no timing is checked here)."""

from __future__ import annotations

import pytest
import requests

from bench.bench_sync import HOST, measure, running_stub, stub_channel

pytestmark = pytest.mark.processes  # the stub runs in a process of its own


@pytest.fixture(scope="module")
def stub_port():
    with running_stub() as port:
        yield port


def test_the_stub_pages_channels_made_on_the_fly(stub_port: int) -> None:
    url = f"http://{HOST}:{stub_port}/250/1/10/api/v2/partners/benchPA/channels"
    page = requests.get(url, params={"limit": 100, "offset": 200}, timeout=10).json()
    assert (page["total"], page["count"], page["offset"]) == (250, 50, 200)
    assert [channel["id"] for channel in page["partner_channels"]][:2] == ["ch0000200CH", "ch0000201CH"]
    assert page["partner_channels"][0] == stub_channel(200, 1, 10)


def test_the_second_round_changes_every_nth_channel_and_some_statuses() -> None:
    changed = [index for index in range(300) if stub_channel(index, 1, 10) != stub_channel(index, 2, 10)]
    assert changed == list(range(0, 300, 10))
    moved = [index for index in changed if stub_channel(index, 1, 10)["status"] != stub_channel(index, 2, 10)["status"]]
    assert moved == [0, 100, 200]


def test_a_small_run_syncs_everything_then_finds_what_changed(stub_port: int) -> None:
    results = measure(300, stub_port, 0.1)
    first, second = results["first"], results["second"]
    assert (first["seen"], first["new"], first["changed"]) == (300, 300, 0)
    assert (second["seen"], second["new"], second["changed"], second["left_running"]) == (300, 0, 30, 3)
    assert first["traced_peak_mb"] > 0
    assert first["cpu_s"] > 0
