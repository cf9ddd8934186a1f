"""The key-health benchmark's harness: its stub answers health_status as the Messaging API does (refusing every
hundredth key), and a small run asks about every key once per pass, finding exactly the refused ones (no timing is
checked here)."""

from __future__ import annotations

import pytest
import requests

from bench.bench_key_health import HOST, STOPPED_EVERY, bench_key, measure, running_stub

pytestmark = pytest.mark.processes  # the stub runs in a process of its own


@pytest.fixture(scope="module")
def stub_port():
    with running_stub() as port:
        yield port


def test_the_stub_answers_like_the_messaging_api(stub_port: int) -> None:
    url = f"http://{HOST}:{stub_port}/health_status"
    assert (
        requests.get(url, headers={"D360-API-KEY": bench_key(1)}, timeout=10).json()["health_status"][
            "can_send_message"
        ]
        == "AVAILABLE"
    )
    refused = requests.get(url, headers={"D360-API-KEY": bench_key(STOPPED_EVERY)}, timeout=10)
    assert refused.status_code == 401


def test_a_small_run_checks_every_key_once_a_pass(stub_port: int) -> None:
    results = measure(200, stub_port, 30)
    first, second = results["first"], results["second"]
    assert (first["checked"], first["stopped"], first["could_not_check"], first["rounds"]) == (200, 2, 0, 7)
    assert (second["checked"], second["stopped"], second["could_not_check"]) == (200, 2, 0)
    assert first["cpu_s"] > 0
    assert results["process"]["max_rss_mb"] > 0
