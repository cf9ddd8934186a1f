"""Key health's settings and its place in the stack: how often, how many a round, what its role holds in live
mode, and that the stack starts it (and waits for it) unless it is off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.keys.health import status as key_health_status
from services.settings import SettingsError, load_settings
from services.stack.commands import services_for
from tests.support import ROOT
from tests.support.console import LIVE_ENV_KEYS, live_env

PASSWORD = "correct horse battery staple"


def _demo(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"), **extra}


def test_every_minute_in_demo_mode_every_hour_live_and_off_at_zero(tmp_path: Path) -> None:
    demo = load_settings(_demo(tmp_path)).key_health
    assert (demo.minutes, demo.budget, demo.round_seconds, demo.enabled) == (1.0, 50, 5.0, True)
    live = load_settings(live_env(tmp_path, PASSWORD), role="key_health").key_health
    assert live.minutes == 60.0
    told = load_settings(
        _demo(
            tmp_path,
            CONSOLE_KEY_HEALTH_MINUTES="0",
            CONSOLE_KEY_HEALTH_BUDGET="200",
            CONSOLE_KEY_HEALTH_ROUND_SECONDS="2.5",
        )
    ).key_health
    assert (told.minutes, told.budget, told.round_seconds, told.enabled) == (0.0, 200, 2.5, False)
    with pytest.raises(SettingsError, match="CONSOLE_KEY_HEALTH_BUDGET must be at least 1"):
        load_settings(_demo(tmp_path, CONSOLE_KEY_HEALTH_BUDGET="0"))
    with pytest.raises(SettingsError, match="CONSOLE_KEY_HEALTH_MINUTES must be a number"):
        load_settings(_demo(tmp_path, CONSOLE_KEY_HEALTH_MINUTES="hourly"))


def test_in_live_mode_it_holds_the_encryption_key_and_no_other_secret(tmp_path: Path) -> None:
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_ALERT_URLS": "json://alerts.example.com/hook"}
    settings = load_settings(env, role="key_health")
    assert settings.encryption_key == env["CONSOLE_ENCRYPTION_KEY"]
    assert (settings.partner_api_key, settings.username, settings.password) == (None, None, None)
    assert settings.platform_secret == ""
    assert settings.alerts.urls == ()
    for key in ("D360_PARTNER_API_KEY", "D360_PLATFORM_SECRET"):
        env.pop(key)
    load_settings(env, role="key_health")
    env.pop("CONSOLE_ENCRYPTION_KEY")
    with pytest.raises(SettingsError) as raised:
        load_settings(env, role="key_health")
    assert str(raised.value).startswith("live mode: the key_health cannot start")
    assert "CONSOLE_ENCRYPTION_KEY" in str(raised.value)


def test_in_demo_mode_it_holds_no_partner_api_key_either(tmp_path: Path) -> None:
    settings = load_settings(_demo(tmp_path), role="key_health")
    assert settings.partner_api_key is None
    assert settings.platform_secret == ""
    assert settings.encryption_key


def test_the_stack_starts_it_beside_the_scheduler_unless_it_is_off(tmp_path: Path) -> None:
    services = services_for(load_settings(_demo(tmp_path)))
    assert [service.name for service in services] == ["sandbox", "receiver", "scheduler", "key health", "dashboard"]
    [health] = [service for service in services if service.name == "key health"]
    assert health.command[1:] == ["-m", "services.keys.health"]
    assert health.health_url is None
    assert health.started is key_health_status.started
    live = services_for(load_settings(live_env(tmp_path, PASSWORD)))
    assert "key health" in [service.name for service in live]
    off = services_for(load_settings(_demo(tmp_path, CONSOLE_KEY_HEALTH_MINUTES="0")))
    assert "key health" not in [service.name for service in off]


@pytest.mark.processes
def test_a_wrong_setting_stops_it_with_its_name_and_off_it_exits_at_once(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in LIVE_ENV_KEYS}
    env.update(_demo(tmp_path, CONSOLE_KEY_HEALTH_BUDGET="many"))
    command = [sys.executable, "-m", "services.keys.health"]
    wrong = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert wrong.returncode == 2
    assert "key health: CONSOLE_KEY_HEALTH_BUDGET must be a number" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    env.update(CONSOLE_KEY_HEALTH_BUDGET="50", CONSOLE_KEY_HEALTH_MINUTES="0")
    off = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert off.returncode == 0
    assert "checks are off (CONSOLE_KEY_HEALTH_MINUTES = 0)" in off.stdout
