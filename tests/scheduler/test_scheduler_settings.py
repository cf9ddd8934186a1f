"""The scheduler's settings: how often it syncs, and in live mode what its role needs and what it never holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import SettingsError, load_settings
from services.stack.commands import services_for
from tests.support.console import live_env

PASSWORD = "correct horse battery staple"


def _demo(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"), **extra}


def test_it_syncs_every_15_minutes_unless_told(tmp_path: Path) -> None:
    assert load_settings(_demo(tmp_path)).sync_minutes == 15.0
    assert load_settings(_demo(tmp_path, CONSOLE_SYNC_MINUTES="0.5")).sync_minutes == 0.5
    assert load_settings(_demo(tmp_path, CONSOLE_SYNC_MINUTES="0")).sync_minutes == 0.0
    with pytest.raises(SettingsError, match="CONSOLE_SYNC_MINUTES must be at least 0"):
        load_settings(_demo(tmp_path, CONSOLE_SYNC_MINUTES="-1"))
    with pytest.raises(SettingsError, match="CONSOLE_SYNC_MINUTES must be a number"):
        load_settings(_demo(tmp_path, CONSOLE_SYNC_MINUTES="often"))


def test_in_live_mode_it_holds_the_partner_api_key_and_no_other_secret(tmp_path: Path) -> None:
    env = live_env(tmp_path, PASSWORD)
    settings = load_settings(env, role="scheduler")
    assert settings.partner_api_key == env["D360_PARTNER_API_KEY"]
    assert (settings.platform_secret, settings.encryption_key) == ("", "")
    receiver = load_settings(env, role="receiver")
    assert (receiver.partner_api_key, receiver.username, receiver.password) == (None, None, None)


def test_in_live_mode_it_needs_the_partner_and_its_credentials_only(tmp_path: Path) -> None:
    env = live_env(tmp_path, PASSWORD)
    for key in ("CONSOLE_ENCRYPTION_KEY", "D360_PLATFORM_SECRET"):
        env.pop(key)
    load_settings(env, role="scheduler")
    env.pop("D360_PARTNER_API_KEY")
    env["D360_API_BASE_URL"] = "http://partner-api.test/api/v2"
    with pytest.raises(SettingsError) as raised:
        load_settings(env, role="scheduler")
    message = str(raised.value)
    assert message.startswith("live mode: the scheduler cannot start")
    assert "D360_PARTNER_API_KEY" in message
    assert "D360_API_BASE_URL" in message


def test_the_stack_runs_it_unless_sync_and_alerts_are_off(tmp_path: Path) -> None:
    names = [service.name for service in services_for(load_settings(_demo(tmp_path)))]
    assert names == ["sandbox", "receiver", "scheduler", "key health", "dashboard"]
    [scheduler] = [service for service in services_for(load_settings(_demo(tmp_path))) if service.name == "scheduler"]
    assert scheduler.command[1:] == ["-m", "services.scheduler"]
    assert scheduler.health_url is None
    off = services_for(load_settings(_demo(tmp_path, CONSOLE_SYNC_MINUTES="0", CONSOLE_ALERT_URLS="off")))
    assert "scheduler" not in [service.name for service in off]
    # Demo mode alerts to the hub's inbox: with sync off the scheduler still runs, for the alerts.
    alerting = services_for(load_settings(_demo(tmp_path, CONSOLE_SYNC_MINUTES="0")))
    assert "scheduler" in [service.name for service in alerting]
