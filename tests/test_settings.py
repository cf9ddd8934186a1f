"""Settings: demo and live mode, the secrets file, every wrong setting named (never its value), the login a
live console needs, the settings the views add, and what the stack passes on to each process."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.password_hash import hash_password
from services.settings import DEMO_PARTNER_ID, SettingsError, load_settings
from tests.support import ROOT
from tests.support.console import OIDC_SECRETS, live_env

LIVE = {
    "D360_PARTNER_ID": "abcPA",
    "D360_PARTNER_API_KEY": secrets.token_urlsafe(32),
    "D360_PLATFORM_SECRET": secrets.token_urlsafe(32),
    "CONSOLE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "CONSOLE_PASSWORD_HASH": hash_password("a long operator password"),
}
PASSWORD = "correct horse battery staple"


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
    secrets_file.write_text(
        'CONSOLE_MODE = "demo"\nCONSOLE_PARTNER_NAME = "from-file"\nSANDBOX_RUNNING_DELAY_SECONDS = 7\n[auth]\nx = 1\n'
    )
    settings = load_settings({"CONSOLE_DATA_DIR": str(tmp_path)}, secrets_path=secrets_file)
    assert settings.partner_display_name == "from-file"
    assert settings.sandbox_running_delay_seconds == 7
    overridden = load_settings(
        {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_PARTNER_NAME": "env"}, secrets_path=secrets_file
    )
    assert overridden.partner_display_name == "env"


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
        ({**LIVE, "D360_IO_SIGNATURE": "true", "D360_PLATFORM_SECRET": "short"}, "D360_PLATFORM_SECRET"),
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
        settings_from(tmp_path, **{**LIVE, "D360_IO_SIGNATURE": "true", "D360_PLATFORM_SECRET": secret})
    assert secret not in str(raised.value)


def test_repr_hides_secrets(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, **LIVE)
    shown = repr(settings)
    assert LIVE["D360_PARTNER_API_KEY"] not in shown
    assert LIVE["D360_PLATFORM_SECRET"] not in shown
    assert LIVE["CONSOLE_ENCRYPTION_KEY"] not in shown


# -- the settings the channels and keys views add --------------------------------------------------


def test_view_defaults(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)
    assert settings.direct_paid is False
    assert settings.stuck_after_minutes == 60


def test_direct_paid_and_stuck_after_are_read(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, D360_DIRECT_PAID="true", CONSOLE_STUCK_AFTER_MINUTES="15")
    assert settings.direct_paid is True
    assert settings.stuck_after_minutes == 15


@pytest.mark.parametrize(
    ("key", "value"),
    [("D360_DIRECT_PAID", "maybe"), ("CONSOLE_STUCK_AFTER_MINUTES", "0"), ("CONSOLE_STUCK_AFTER_MINUTES", "soon")],
)
def test_wrong_values_name_the_setting(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        settings_from(tmp_path, **{key: value})


# -- where each number's messages go once its key is made ---------------------------------------------


def test_the_messaging_webhook_template_and_headers_are_read(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        **LIVE,
        CONSOLE_MESSAGING_WEBHOOK_URL="https://hooks.example.org/wa/{client_id}/{channel_id}?n={phone_number}",
        CONSOLE_MESSAGING_WEBHOOK_HEADERS='{"X-Hook-Token": "a-header-secret-value"}',
    )
    assert settings.messaging_webhook_url == "https://hooks.example.org/wa/{client_id}/{channel_id}?n={phone_number}"
    assert settings.messaging_webhook_headers == {"X-Hook-Token": "a-header-secret-value"}
    assert "a-header-secret-value" not in repr(settings)


def test_live_mode_has_no_messaging_webhook_unless_told_and_demo_has_an_example_one(tmp_path: Path) -> None:
    assert settings_from(tmp_path / "live", **LIVE).messaging_webhook_url is None
    assert settings_from(tmp_path / "demo").messaging_webhook_url.startswith("https://messages.example.com/")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("http://hooks.example.org/{channel_id}", "https"),
        ("https://hooks.example.org:8443/{channel_id}", "port"),
        ("https://my_hooks.example.org/{channel_id}", "'_'"),
        ("https://hooks.example.org/{channel}", "may name only"),
        ("https://hooks.example.org/{channel_id", "unbalanced"),
    ],
)
def test_a_webhook_template_meta_would_refuse_stops_the_start(tmp_path: Path, value: str, why: str) -> None:
    with pytest.raises(SettingsError, match="CONSOLE_MESSAGING_WEBHOOK_URL") as raised:
        settings_from(tmp_path, **LIVE, CONSOLE_MESSAGING_WEBHOOK_URL=value)
    assert why in str(raised.value)


@pytest.mark.parametrize("value", ["not json", '["X-A"]', '{"X-A": 5}', '{"bad header": "v"}'])
def test_webhook_headers_must_be_an_object_of_text(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="CONSOLE_MESSAGING_WEBHOOK_HEADERS") as raised:
        settings_from(tmp_path, **LIVE, CONSOLE_MESSAGING_WEBHOOK_HEADERS=value)
    assert value not in str(raised.value)


# -- live mode refuses to start without a login or with weak secrets --------------------------------


def test_live_mode_without_single_sign_on_needs_no_shared_password(tmp_path: Path) -> None:
    # People sign in with their own password accounts, kept in the console database.
    settings = load_settings(live_env(tmp_path, PASSWORD))
    assert not settings.oidc_configured
    assert settings.password_hash is None


def test_live_mode_refuses_a_malformed_password_hash(tmp_path: Path) -> None:
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_PASSWORD_HASH": "plain-text-password"}
    with pytest.raises(SettingsError, match="CONSOLE_PASSWORD_HASH") as caught:
        load_settings(env)
    assert "plain-text-password" not in str(caught.value)


def test_oidc_in_secrets_replaces_the_password(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(OIDC_SECRETS)
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_SECRETS_FILE": str(secrets_file)}
    settings = load_settings(env)
    assert settings.oidc_configured
    assert settings.oidc_provider == "corp"
    assert settings.password_hash is None


def test_an_incomplete_auth_table_does_not_count_as_login(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_SECRETS_FILE": str(secrets_file)}
    # Without providers it is no single sign-on: the console signs in password accounts.
    assert not load_settings(env).oidc_configured


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("D360_PLATFORM_SECRET", "", "D360_PLATFORM_SECRET is required"),
        ("D360_PLATFORM_SECRET", "xq7Zp", "D360_PLATFORM_SECRET is too short"),
        ("D360_PLATFORM_SECRET", "a" * 40, "D360_PLATFORM_SECRET is too weak"),
        ("D360_PARTNER_API_KEY", "abcabcabcabcabcabc", "D360_PARTNER_API_KEY is too weak"),
        ("CONSOLE_ENCRYPTION_KEY", "", "CONSOLE_ENCRYPTION_KEY is required"),
        ("CONSOLE_ENCRYPTION_KEY", "not-a-fernet-key", "CONSOLE_ENCRYPTION_KEY must be a Fernet key"),
        ("CONSOLE_ENCRYPTION_KEY", "A" * 43 + "=", "CONSOLE_ENCRYPTION_KEY is too weak"),
        ("CONSOLE_LOG_LEVEL", "LOUD", "CONSOLE_LOG_LEVEL must be one of"),
        ("CONSOLE_BIND_ADDRESS", "local host!", "CONSOLE_BIND_ADDRESS"),
    ],
)
def test_live_mode_names_the_wrong_setting_and_not_its_value(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    # IO Signature on: signing links is what needs the platform secret in the console.
    env = {**live_env(tmp_path, PASSWORD), "D360_IO_SIGNATURE": "true", key: value}
    if value == "":
        del env[key]
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(env)
    if value:
        assert value not in str(caught.value)


def test_weak_receiver_auth_header_is_refused_in_live_mode(tmp_path: Path) -> None:
    env = {
        **live_env(tmp_path, PASSWORD),
        "RECEIVER_AUTH_HEADER_NAME": "x-partner-token",
        "RECEIVER_AUTH_HEADER_VALUE": "token",
    }
    with pytest.raises(SettingsError, match="RECEIVER_AUTH_HEADER_VALUE is too short"):
        load_settings(env)


def test_every_mode_binds_to_localhost_unless_told(tmp_path: Path) -> None:
    env = {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml")}
    assert load_settings(env).bind_address == "127.0.0.1"
    with pytest.raises(SettingsError, match="loopback only"):
        load_settings({**env, "CONSOLE_BIND_ADDRESS": "0.0.0.0"})
    assert load_settings(live_env(tmp_path, PASSWORD)).bind_address == "127.0.0.1"
    assert load_settings({**live_env(tmp_path, PASSWORD), "CONSOLE_BIND_ADDRESS": "0.0.0.0"}).bind_address == "0.0.0.0"


def test_the_stack_passes_bind_address_and_log_level(tmp_path: Path) -> None:
    from services.stack.commands import services_for

    env = {
        "CONSOLE_DATA_DIR": str(tmp_path),
        "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"),
        "CONSOLE_LOG_LEVEL": "debug",
    }
    for service in services_for(load_settings(env)):
        if service.health_url is None:
            continue  # the scheduler listens nowhere and reads CONSOLE_LOG_LEVEL itself
        command = service.command
        host_flag = "--server.address" if service.name == "dashboard" else "--host"
        level_flag = "--logger.level" if service.name == "dashboard" else "--log-level"
        assert command[command.index(host_flag) + 1] == "127.0.0.1", service.name
        assert command[command.index(level_flag) + 1] == "debug", service.name


def run_with_env(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python ARGUMENTS` from the project root with only `env` (and a PATH) set."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.processes
def test_the_receiver_refuses_to_start_with_a_weak_secret(tmp_path: Path) -> None:
    env = {**live_env(tmp_path, PASSWORD), "D360_PLATFORM_SECRET": "0101010101010101010101"}
    from services.stack.commands import RECEIVER_APP

    result = run_with_env(["-m", "uvicorn", *RECEIVER_APP, "--port", "0"], env)
    assert result.returncode == 2
    assert "D360_PLATFORM_SECRET is too weak" in result.stderr
    assert "0101010101010101010101" not in result.stderr


@pytest.mark.processes
def test_the_stack_refuses_to_start_naming_the_weak_setting(tmp_path: Path) -> None:
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_ENCRYPTION_KEY": "A" * 43 + "="}
    result = run_with_env(["-m", "services.stack"], env)
    assert result.returncode == 2
    assert "CONSOLE_ENCRYPTION_KEY is too weak" in result.stderr
    assert not (tmp_path / "console.db").exists()
