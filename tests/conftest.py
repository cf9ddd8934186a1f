"""Shared fixtures: an isolated settings environment, a console database that is always closed, and a Partner
API client of the mocked hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from services.partner_api import PartnerApi
from services.settings import Settings, load_settings
from services.store import open_console_db
from tests.mocked_hub import mocked_hub_client

CREDENTIAL_KEYS = ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD", "D360_PLATFORM_SECRET")


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Demo-mode environment in a temp folder, with no secrets file of the developer's leaking in."""
    for key in CREDENTIAL_KEYS:
        monkeypatch.delenv(key, raising=False)
    env = {"CONSOLE_DATA_DIR": str(tmp_path / "data"), "CONSOLE_SECRETS_FILE": str(tmp_path / "secrets.toml")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def demo_settings(demo_env: dict[str, str]) -> Settings:
    return load_settings()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_console_db(tmp_path / "console.db")
    yield database
    database.close()


@pytest.fixture
def api() -> Iterator[PartnerApi]:
    """A Partner API client of the hub that tests mock at tests.mocked_hub.BASE."""
    client = mocked_hub_client()
    yield client
    client.close()
