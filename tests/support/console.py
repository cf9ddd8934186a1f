"""A console's settings in a temp folder, demo or live, and its database opened for the length of a block.

Each test's settings come from these alone: no credential of the developer's environment, and no secrets file
of theirs, reaches a test.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
import streamlit as st
from cryptography.fernet import Fernet
from sqlite_utils import Database

from services.accounts import ADMIN, add_account, command_line_person, list_accounts
from services.store import open_console_db

# Settings that would switch the console to live mode, or change what a test expects, if they leaked in.
LIVE_ENV_KEYS = (
    "CONSOLE_MODE",
    "CONSOLE_PARTNER_NAME",
    "CONSOLE_LANDING_CONTINUE_URL",
    "CONSOLE_SYNC_MINUTES",
    "CONSOLE_KEY_HEALTH_MINUTES",
    "CONSOLE_KEY_HEALTH_BUDGET",
    "CONSOLE_KEY_HEALTH_ROUND_SECONDS",
    "D360_IO_SIGNATURE",
    "D360_PARTNER_ID",
    "D360_PARTNER_API_KEY",
    "D360_USERNAME",
    "D360_PASSWORD",
    "D360_PLATFORM_SECRET",
    "D360_API_BASE_URL",
    "D360_HUB_ENV",
    "CONSOLE_ENCRYPTION_KEY",
    "CONSOLE_PASSWORD_HASH",
    "CONSOLE_BIND_ADDRESS",
    "CONSOLE_LOG_LEVEL",
    "RECEIVER_AUTH_HEADER_NAME",
    "RECEIVER_AUTH_HEADER_VALUE",
    "CONSOLE_MESSAGING_WEBHOOK_URL",
    "CONSOLE_MESSAGING_WEBHOOK_HEADERS",
    "CONSOLE_ALERT_URLS",
    "CONSOLE_MESSAGING_API_HOSTS",
    "CONSOLE_TRUSTED_PROXIES",
    "CONSOLE_ALLOWED_EMAILS",
    "CONSOLE_ALLOWED_DOMAINS",
    "CONSOLE_ROLES",
    "CONSOLE_DEFAULT_ROLE",
    "CONSOLE_ROLE_CLAIM",
    "CONSOLE_SESSION_HOURS",
)
# A secrets file that sets up single sign-on (Streamlit's [auth] table) in place of the password, for the
# team at example.com (a flat key comes before the first table).
OIDC_SECRETS = (
    'CONSOLE_ALLOWED_DOMAINS = "example.com"\n'
    "[auth]\n"
    'redirect_uri = "http://localhost:8501/oauth2callback"\n'
    'cookie_secret = "3vQm9x0Pk2LwZr7TfYc8HbNd"\n'
    "[auth.corp]\n"
    'client_id = "console"\n'
    'client_secret = "s3cr3t-from-the-idp"\n'
    'server_metadata_url = "https://idp.test/.well-known/openid-configuration"\n'
)


def use_demo(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **extra: str) -> Path:
    """Demo mode with its data in `data_dir`, plus any `extra` settings; returns `data_dir`."""
    for key in LIVE_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CONSOLE_MODE", "demo")
    monkeypatch.setenv("CONSOLE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CONSOLE_SECRETS_FILE", str(data_dir / "no-secrets.toml"))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    return data_dir


# The password accounts every live console of the tests has, each an admin signing in with the test's password.
TEAM = ("alice", "dora", "ana")


def add_team(data_dir: Path, password: str, names: tuple[str, ...] = TEAM, role: str = ADMIN) -> None:
    """Password accounts in the console database under `data_dir`, as `python -m services.accounts add` makes."""
    with console_db(data_dir / "console.db") as db:
        for name in names:
            if name not in {account.name for account in list_accounts(db)}:
                add_account(db, command_line_person("tests"), name, password, role)


def live_env(data_dir: Path, password: str) -> dict[str, str]:
    """Complete live-mode settings with strong fresh secrets. Settings alone: `add_team(data_dir, password)`
    makes the accounts a console process signs in with (use_live does)."""
    return {
        "CONSOLE_MODE": "live",
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        "D360_PARTNER_ID": "livePA",
        "D360_PARTNER_API_KEY": secrets.token_urlsafe(32),
        "D360_PLATFORM_SECRET": secrets.token_urlsafe(32),
        "D360_API_BASE_URL": "https://partner-api.test/api/v2",
        "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def use_live(monkeypatch: pytest.MonkeyPatch, data_dir: Path, password: str) -> dict[str, str]:
    for key in LIVE_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    env = live_env(data_dir, password)
    add_team(data_dir, password)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    return env


@contextmanager
def console_db(path: Path) -> Iterator[Database]:
    """The console database at `path` (made and migrated if need be), closed when the block ends. A new one is a
    copy of a database migrated once per test process: migrating from nothing costs ~45 ms, a copy ~2 ms, and
    tests/test_migrations.py and tests/test_data_folder_upgrade.py migrate for real."""
    if not path.exists():
        shutil.copy2(_migrated_template(), path)
    db = open_console_db(path)
    try:
        yield db
    finally:
        db.close()


@cache
def _migrated_template() -> Path:
    """A console database with every migration applied, made once per test process and left closed."""
    folder = Path(tempfile.mkdtemp(prefix="console-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    template = folder / "console.db"
    open_console_db(template).close()
    return template
