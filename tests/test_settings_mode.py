"""The mode is explicit and never falls back to demo; each process checks what its own role needs."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.password_hash import hash_password
from services.settings import SettingsError, load_settings


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"CONSOLE_DATA_DIR": str(tmp_path / "data"), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"), **values}


def _live_console(tmp_path: Path, **values: str) -> dict[str, str]:
    return _env(
        tmp_path,
        D360_PARTNER_ID="livePA",
        D360_PARTNER_API_KEY=secrets.token_urlsafe(32),
        CONSOLE_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        CONSOLE_PASSWORD_HASH=hash_password("correct horse battery"),
        **values,
    )


def test_a_fresh_clone_with_no_settings_is_the_demo(tmp_path: Path) -> None:
    settings = load_settings(env=_env(tmp_path))
    assert settings.mode == "demo"
    assert settings.demo_mode
    assert settings.bind_address == "127.0.0.1"


@pytest.mark.parametrize(
    "present",
    [
        {"D360_PARTNER_ID": "livePA"},
        {"CONSOLE_PASSWORD_HASH": hash_password("correct horse battery")},
        {"CONSOLE_ENCRYPTION_KEY": "x"},
        {"D360_PLATFORM_SECRET": "s"},
        {"D360_USERNAME": "u", "D360_PASSWORD": "p"},
    ],
)
def test_a_live_setting_present_means_live_and_what_is_missing_is_named(tmp_path: Path, present) -> None:
    # The old behaviour: with the Partner API key missing (a secret that failed to mount), this was an open demo.
    with pytest.raises(SettingsError, match="live mode: the console cannot start") as caught:
        load_settings(env=_env(tmp_path, **present))
    message = str(caught.value)
    assert "D360_PARTNER_API_KEY" in message or "D360_PARTNER_ID" in message


def test_every_missing_setting_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env=_env(tmp_path, CONSOLE_MODE="live"))
    for key in ("D360_PARTNER_ID", "D360_PARTNER_API_KEY", "CONSOLE_ENCRYPTION_KEY"):
        assert key in str(caught.value)
    # People sign in with password accounts: the shared password is no setting a console needs.
    assert "CONSOLE_PASSWORD_HASH" not in str(caught.value)


def test_an_auth_table_alone_means_live(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('[auth]\nredirect_uri = "https://c.example/oauth2callback"\n')
    with pytest.raises(SettingsError, match="live mode"):
        load_settings(env={**_env(tmp_path), "CONSOLE_SECRETS_FILE": str(secrets_file)})


def test_a_complete_live_console_starts(tmp_path: Path) -> None:
    settings = load_settings(env=_live_console(tmp_path))
    assert settings.mode == "live"
    assert settings.login_required
    assert settings.bind_address == "127.0.0.1"


@pytest.mark.parametrize("value", ["production", "Demo mode", "1"])
def test_an_unknown_mode_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="CONSOLE_MODE must be one of demo, live"):
        load_settings(env=_env(tmp_path, CONSOLE_MODE=value))


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.20", "::", "console.example.com"])
def test_demo_mode_listens_on_loopback_only(tmp_path: Path, address: str) -> None:
    with pytest.raises(SettingsError, match="demo mode listens on loopback only"):
        load_settings(env=_env(tmp_path, CONSOLE_BIND_ADDRESS=address))


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_demo_mode_accepts_any_loopback_address(tmp_path: Path, address: str) -> None:
    assert load_settings(env=_env(tmp_path, CONSOLE_BIND_ADDRESS=address)).bind_address == address


def test_the_receiver_needs_the_platform_secret_and_nothing_of_the_console(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="the receiver cannot start: D360_PLATFORM_SECRET is required"):
        load_settings(env=_env(tmp_path, CONSOLE_MODE="live"), role="receiver")
    settings = load_settings(
        env=_env(tmp_path, CONSOLE_MODE="live", D360_PLATFORM_SECRET=secrets.token_urlsafe(32)), role="receiver"
    )
    assert settings.mode == "live"


def test_the_receiver_never_holds_the_partner_api_key(tmp_path: Path) -> None:
    env = _live_console(tmp_path, D360_PLATFORM_SECRET=secrets.token_urlsafe(32))
    settings = load_settings(env=env, role="receiver")
    assert settings.partner_api_key is None
    assert settings.username is None
    assert settings.password is None
    assert load_settings(env=env).partner_api_key == env["D360_PARTNER_API_KEY"]


def test_a_console_that_signs_io_links_needs_the_platform_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="D360_PLATFORM_SECRET is required"):
        load_settings(env=_live_console(tmp_path, D360_IO_SIGNATURE="true"))
    assert load_settings(env=_live_console(tmp_path)).io_signature_enabled is False


def test_live_mode_calls_the_partner_api_over_https_only(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="D360_API_BASE_URL must be an https URL in live mode"):
        load_settings(env=_live_console(tmp_path, D360_API_BASE_URL="http://hub.360dialog.io/api/v2"))
    # This machine only: a local stand-in for 360dialog.
    local = load_settings(env=_live_console(tmp_path, D360_API_BASE_URL="http://127.0.0.1:8503/api/v2"))
    assert local.api_base_url == "http://127.0.0.1:8503/api/v2"


def test_an_explicit_demo_ignores_stray_live_settings_but_stays_on_loopback(tmp_path: Path) -> None:
    env = _live_console(tmp_path, CONSOLE_MODE="demo")
    settings = load_settings(env=env)
    assert settings.demo_mode
    assert settings.partner_api_key != env["D360_PARTNER_API_KEY"]
    with pytest.raises(SettingsError, match="loopback"):
        load_settings(env={**env, "CONSOLE_BIND_ADDRESS": "0.0.0.0"})


def test_the_landing_page_settings(tmp_path: Path) -> None:
    settings = load_settings(
        env=_env(tmp_path, CONSOLE_PARTNER_NAME="Acme Messaging", CONSOLE_LANDING_CONTINUE_URL="https://acme.example")
    )
    assert (settings.partner_display_name, settings.landing_continue_url) == ("Acme Messaging", "https://acme.example")
    with pytest.raises(SettingsError, match="CONSOLE_LANDING_CONTINUE_URL must be an http"):
        load_settings(env=_env(tmp_path, CONSOLE_LANDING_CONTINUE_URL="javascript:alert(1)"))
