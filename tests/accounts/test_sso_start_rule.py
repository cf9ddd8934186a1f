"""Single sign-on in live mode lets in every account of the identity provider unless told whom: without
CONSOLE_ALLOWED_EMAILS or CONSOLE_ALLOWED_DOMAINS the console refuses to start, naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import SettingsError, load_settings
from tests.support.console import live_env

PASSWORD = "correct horse battery staple"
# Google's metadata: the first example of Streamlit's docs, where every Google account could sign in.
AUTH_TABLE = (
    "[auth]\n"
    'redirect_uri = "https://console.example.com/oauth2callback"\n'
    'cookie_secret = "3vQm9x0Pk2LwZr7TfYc8HbNd"\n'
    'client_id = "console"\n'
    'client_secret = "s3cr3t-from-the-idp"\n'
    'server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"\n'
)


def sso_env(tmp_path: Path, **env: str) -> dict[str, str]:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(AUTH_TABLE)
    live = {**live_env(tmp_path, PASSWORD), "CONSOLE_SECRETS_FILE": str(secrets_file)}
    return {**live, **env}


def test_live_single_sign_on_without_a_list_refuses_to_start_naming_the_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(sso_env(tmp_path))
    message = str(caught.value)
    assert message.startswith("live mode: the console cannot start")
    assert "CONSOLE_ALLOWED_EMAILS or CONSOLE_ALLOWED_DOMAINS" in message


@pytest.mark.parametrize(
    "allowed", [{"CONSOLE_ALLOWED_EMAILS": "ana@example.com"}, {"CONSOLE_ALLOWED_DOMAINS": "example.com"}]
)
def test_live_single_sign_on_starts_with_either_list(tmp_path: Path, allowed: dict[str, str]) -> None:
    settings = load_settings(sso_env(tmp_path, **allowed))
    assert settings.oidc_configured


def test_the_list_is_not_asked_of_a_password_console_or_of_other_processes(tmp_path: Path) -> None:
    assert not load_settings(live_env(tmp_path, PASSWORD)).oidc_configured
    env = sso_env(tmp_path)
    assert load_settings(env, role="scheduler").oidc_configured
    assert load_settings(env, role="receiver").oidc_configured
