"""The settings the channels and keys views add."""

from __future__ import annotations

import pytest

from services.settings import SettingsError, load_settings


def _settings(tmp_path, **env):
    return load_settings({"CONSOLE_DATA_DIR": str(tmp_path / "data"), **env}, secrets_path=tmp_path / "none.toml")


def test_defaults(tmp_path) -> None:
    settings = _settings(tmp_path)
    assert settings.direct_paid is False
    assert settings.stuck_after_minutes == 60


def test_direct_paid_and_stuck_after_are_read(tmp_path) -> None:
    settings = _settings(tmp_path, D360_DIRECT_PAID="true", CONSOLE_STUCK_AFTER_MINUTES="15")
    assert settings.direct_paid is True
    assert settings.stuck_after_minutes == 15


@pytest.mark.parametrize(
    ("key", "value"),
    [("D360_DIRECT_PAID", "maybe"), ("CONSOLE_STUCK_AFTER_MINUTES", "0"), ("CONSOLE_STUCK_AFTER_MINUTES", "soon")],
)
def test_wrong_values_name_the_setting(tmp_path, key, value) -> None:
    with pytest.raises(SettingsError, match=key):
        _settings(tmp_path, **{key: value})
