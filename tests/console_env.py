"""Settings for page tests: demo or live mode in a temp folder, and an AppTest of the whole console."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import streamlit as st
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

from services.password_hash import hash_password

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
LIVE_ENV_KEYS = (
    "D360_PARTNER_ID",
    "D360_PARTNER_API_KEY",
    "D360_USERNAME",
    "D360_PASSWORD",
    "D360_PLATFORM_SECRET",
    "D360_API_BASE_URL",
    "CONSOLE_ENCRYPTION_KEY",
    "CONSOLE_PASSWORD_HASH",
    "CONSOLE_OPERATOR",
    "CONSOLE_BIND_ADDRESS",
    "CONSOLE_LOG_LEVEL",
    "RECEIVER_AUTH_HEADER_NAME",
    "RECEIVER_AUTH_HEADER_VALUE",
)


def use_demo(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    for key in LIVE_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CONSOLE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CONSOLE_SECRETS_FILE", str(data_dir / "no-secrets.toml"))
    st.cache_resource.clear()


def live_env(data_dir: Path, password: str) -> dict[str, str]:
    return {
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "D360_PARTNER_ID": "livePA",
        "D360_PARTNER_API_KEY": secrets.token_urlsafe(32),
        "D360_PLATFORM_SECRET": secrets.token_urlsafe(32),
        "D360_API_BASE_URL": "https://partner-api.test/api/v2",
        "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CONSOLE_PASSWORD_HASH": hash_password(password),
    }


def use_live(monkeypatch: pytest.MonkeyPatch, data_dir: Path, password: str) -> dict[str, str]:
    for key in LIVE_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    env = live_env(data_dir, password)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    return env


def console_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def close_session_db(at: AppTest) -> None:
    """The pages keep one connection per session; close it so the test leaves nothing open."""
    if "db" in at.session_state:
        at.session_state["db"].close()
