"""An HTTP sink for apprise's JSON target, one per module on a real loopback port and emptied for each test; a
clock the test moves; the alert round as the scheduler runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.alert_conditions import Clock
from tests.support.alert_sinks import JsonSink, json_sink

PUBLIC_URL = "http://console.test:8501"


@pytest.fixture(scope="module")
def sink_and_url() -> Iterator[tuple[JsonSink, str]]:
    with json_sink() as found:
        yield found


@pytest.fixture
def sink(sink_and_url: tuple[JsonSink, str]) -> JsonSink:
    found, _ = sink_and_url
    found.clear()
    found.failing = 0
    found.refused = 0
    return found


@pytest.fixture
def sink_url(sink_and_url: tuple[JsonSink, str]) -> str:
    return sink_and_url[1]


@pytest.fixture
def clock() -> Clock:
    return Clock()
