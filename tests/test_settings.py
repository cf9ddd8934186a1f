import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.password_hash import hash_password
from services.settings import DEMO_PARTNER_ID, SettingsError, load_settings

LIVE = {
    "D360_PARTNER_ID": "abcPA",
    "D360_PARTNER_API_KEY": secrets.token_urlsafe(32),
    "D360_PLATFORM_SECRET": secrets.token_urlsafe(32),
    "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "CONSOLE_PASSWORD_HASH": hash_password("a long operator password"),
}


def settings_from(tmp_path: Path, **env: str):
    return load_settings({"CONSOLE_DATA_DIR": str(tmp_path), **env}, secrets_path=tmp_path / "none.toml")


def test_no_credentials_means_demo_mode_pointing_at_the_sandbox(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, SANDBOX_URL="http://127.0.0.1:9999")
    assert settings.demo_mode
    assert settings.partner_id == DEMO_PARTNER_ID
    assert settings.api_base_url == "http://127.0.0.1:9999/api/v2"
    assert settings.hub_url == "http://127.0.0.1:9999/dashboard/app"
    assert settings.hub_env == "sandbox"


def test_demo_secrets_are_generated_once_and_shared(tmp_path: Path) -> None:
    first = settings_from(tmp_path)
    second = settings_from(tmp_path)
    assert first.platform_secret == second.platform_secret
    assert first.partner_api_key == second.partner_api_key
    assert first.encryption_key == second.encryption_key
    assert (tmp_path / "demo-secrets.json").stat().st_mode & 0o077 == 0


def test_live_mode_uses_360dialog_defaults(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, **LIVE)
    assert not settings.demo_mode
    assert settings.api_base_url == "https://hub.360dialog.io/api/v2"
    assert settings.hub_env == "prod"
    assert not (tmp_path / "demo-secrets.json").exists()


def test_secrets_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('CONSOLE_OPERATOR = "from-file"\nSANDBOX_RUNNING_DELAY_SECONDS = 7\n[auth]\nx = 1\n')
    settings = load_settings({"CONSOLE_DATA_DIR": str(tmp_path)}, secrets_path=secrets_file)
    assert settings.operator == "from-file"
    assert settings.sandbox_running_delay_seconds == 7
    overridden = load_settings(
        {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_OPERATOR": "env"}, secrets_path=secrets_file
    )
    assert overridden.operator == "env"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"D360_API_BASE_URL": "ftp://x"}, "D360_API_BASE_URL"),
        ({"CONSOLE_PUBLIC_URL": "not a url"}, "CONSOLE_PUBLIC_URL"),
        ({"SANDBOX_RUNNING_DELAY_SECONDS": "soon"}, "SANDBOX_RUNNING_DELAY_SECONDS"),
        ({"D360_IO_SIGNATURE": "maybe"}, "D360_IO_SIGNATURE"),
        ({"D360_IO_SIGNATURE_ENCODING": "base32"}, "D360_IO_SIGNATURE_ENCODING"),
        ({"D360_HUB_ENV": "moon"}, "D360_HUB_ENV"),
        ({"D360_USERNAME": "only-user"}, "D360_PASSWORD"),
        ({"RECEIVER_AUTH_HEADER_NAME": "x-token"}, "RECEIVER_AUTH_HEADER_VALUE"),
        ({**LIVE, "D360_PARTNER_ID": ""}, "D360_PARTNER_ID"),
        ({**LIVE, "D360_PARTNER_ID": "bad id!"}, "D360_PARTNER_ID"),
        ({**LIVE, "D360_PLATFORM_SECRET": "short"}, "D360_PLATFORM_SECRET"),
        ({**LIVE, "CONSOLE_ENCRYPTION_KEY": ""}, "CONSOLE_ENCRYPTION_KEY"),
        ({**LIVE, "CONSOLE_ENCRYPTION_KEY": "not-a-fernet-key"}, "CONSOLE_ENCRYPTION_KEY"),
    ],
)
def test_a_wrong_setting_is_named(tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        settings_from(tmp_path, **env)


def test_error_messages_never_carry_the_secret(tmp_path: Path) -> None:
    secret = "tooShortSecret"
    with pytest.raises(SettingsError) as raised:
        settings_from(tmp_path, **{**LIVE, "D360_PLATFORM_SECRET": secret})
    assert secret not in str(raised.value)


def test_repr_hides_secrets(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, **LIVE)
    shown = repr(settings)
    assert LIVE["D360_PARTNER_API_KEY"] not in shown
    assert LIVE["D360_PLATFORM_SECRET"] not in shown
    assert LIVE["CONSOLE_ENCRYPTION_KEY"] not in shown
