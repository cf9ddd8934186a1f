"""Fixtures every test may use: a console database that is always closed, demo-mode settings for AppTest, a
Partner API client of the mocked hub; channels and key attempts put straight into the database; the `browser`
marker on everything under tests/browser; and the check that a test starting a process or a server is marked."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
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
    """Real-browser tests are marked `browser`, so `-m "not browser"` leaves them out."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)


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
