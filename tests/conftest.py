"""Fixtures every test may use: a console database that is always closed, demo-mode settings for AppTest, a
Partner API client of the mocked hub; channels and key attempts put straight into the database; the `browser`
marker on everything under tests/browser; and the check that a test starting a process or a server is marked."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from itertools import zip_longest
from pathlib import Path

import pytest
import streamlit as st
from sqlite_utils import Database
from streamlit.testing.v1 import AppTest

from services.channels.projection import upsert_channel
from services.partner_api import PartnerApi
from tests.support.console import console_db, use_demo
from tests.support.mocked_hub import mocked_hub_client
from tests.support.pages import close_session_db
from tests.support.servers import marker_guard

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Real-browser tests are marked `browser`, so `-m "not browser"` leaves them out. The files that wait longest
    (a browser or other processes) come first, so that the workers of `make test` start them first and the short
    files fill in around them, instead of one long file running alone at the end."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)
    items[:] = longest_waits_first(items)


def longest_waits_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The same items, each file's tests together and in their order: a browser file and a file of other processes
    in turn first (so that two browsers at most run at once on two cores), then the rest."""
    files: dict[Path, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.path, []).append(item)
    browser = [tests for tests in files.values() if any(item.get_closest_marker("browser") for item in tests)]
    waiting = [
        tests
        for tests in files.values()
        if tests not in browser and any(item.get_closest_marker("processes") for item in tests)
    ]
    rest = [tests for tests in files.values() if tests not in browser and tests not in waiting]
    in_turn = [tests for pair in zip_longest(browser, waiting) for tests in pair if tests is not None]
    return [item for tests in in_turn + rest for item in tests]


def pytest_configure(config: pytest.Config) -> None:
    marker_guard.install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """The guard knows the test from before its fixtures are set up until after they are torn down."""
    marker_guard.test = item
    try:
        return (yield)
    finally:
        marker_guard.test = None


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The console's data folder for this test, made and empty."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def db_path(data_dir: Path) -> Path:
    return data_dir / "console.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    """The console database at `db_path`, migrated, and closed after the test."""
    with console_db(db_path) as database:
        yield database


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[Path]:
    """Demo-mode settings with their data in `data_dir`, for pages run in AppTest; yields `data_dir`."""
    use_demo(monkeypatch, data_dir)
    yield data_dir
    st.cache_resource.clear()


@pytest.fixture
def sessions() -> Iterator[list[AppTest]]:
    """AppTests a test appends here have their session's database connection closed afterwards."""
    opened: list[AppTest] = []
    yield opened
    for app in opened:
        close_session_db(app)


@pytest.fixture
def api() -> Iterator[PartnerApi]:
    """A Partner API client of the hub that tests mock at tests.support.mocked_hub.BASE."""
    client = mocked_hub_client()
    yield client
    client.close()


@pytest.fixture
def add_channel(db: Database) -> Callable[..., None]:
    """Upsert a channel with the given fields, as the sync or a webhook would."""

    def add(channel_id: str, **fields: object) -> None:
        with db.atomic():
            upsert_channel(db, channel_id, fields, source="test")

    return add


@pytest.fixture
def add_key(db: Database) -> Callable[..., None]:
    """Record a key attempt for a channel: by default one that succeeded and is active."""

    def add(channel_id: str, outcome: str = "ok", status: str | None = "active") -> None:
        with db.atomic():
            db["api_keys"].insert(
                {"channel_id": channel_id, "operator": "ops", "created_at": "t", "outcome": outcome, "status": status}
            )

    return add
