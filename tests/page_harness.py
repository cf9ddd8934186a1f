"""Running one page with AppTest against a console database in a temp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlite_utils import Database
from streamlit.testing.v1 import AppTest

from services.store import open_console_db

ROOT = Path(__file__).resolve().parent.parent
CREDENTIAL_KEYS = ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD", "D360_PLATFORM_SECRET")


def isolate_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> Path:
    """Demo-mode settings in a temp folder; returns the console database path."""
    for key in CREDENTIAL_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CONSOLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONSOLE_SECRETS_FILE", str(tmp_path / "secrets.toml"))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    return tmp_path / "data" / "console.db"


def page_app(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / name), default_timeout=30)


def close_page_db(app: AppTest) -> None:
    if "db" in app.session_state:
        app.session_state["db"].close()


def seeded_db(path: Path) -> Iterator[Database]:
    db = open_console_db(path)
    try:
        yield db
    finally:
        db.close()
