"""The team-access settings: each parsed or refused by name (never by value); the accounts command's own
process role."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.accounts import ADMIN, OPERATOR, VIEWER, AdmissionPolicy
from services.settings import AccessSettings, SettingsError, load_settings
from tests.support.console import live_env

PASSWORD = "correct horse battery staple"


def demo_settings(tmp_path: Path, **env: str):
    return load_settings(
        {"CONSOLE_MODE": "demo", "CONSOLE_DATA_DIR": str(tmp_path), **env}, secrets_path=tmp_path / "none.toml"
    )


def test_the_defaults_let_nobody_in_by_list_and_make_viewers(tmp_path: Path) -> None:
    assert demo_settings(tmp_path).access == AccessSettings()
    assert AccessSettings().default_role == VIEWER
    assert AccessSettings().session_hours == 12.0


def test_every_setting_is_read(tmp_path: Path) -> None:
    access = demo_settings(
        tmp_path,
        CONSOLE_ALLOWED_EMAILS="Carol@Partner.Example, dave@freelance.example carol@partner.example",
        CONSOLE_ALLOWED_DOMAINS="example.com @Example.org",
        CONSOLE_ROLES="admin=ana@example.com; operator = example.com, example.org ;viewer=partner.example",
        CONSOLE_DEFAULT_ROLE="Operator",
        CONSOLE_SESSION_HOURS="8",
    ).access
    assert access.allowed_emails == ("carol@partner.example", "dave@freelance.example")
    assert access.allowed_domains == ("example.com", "example.org")
    assert dict(access.role_map) == {
        "ana@example.com": ADMIN,
        "example.com": OPERATOR,
        "example.org": OPERATOR,
        "partner.example": VIEWER,
    }
    assert access.default_role == OPERATOR
    assert access.session_hours == 8.0
    policy = AdmissionPolicy.from_settings(demo_settings(tmp_path, CONSOLE_ROLE_CLAIM="groups"))
    assert policy.role_claim == "groups"
    assert policy.role_map == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("CONSOLE_ALLOWED_EMAILS", "ana@example.com, secret-1", "CONSOLE_ALLOWED_EMAILS: item 2 is not an e-mail"),
        ("CONSOLE_ALLOWED_EMAILS", "ana@localhost", "CONSOLE_ALLOWED_EMAILS: item 1 is not an e-mail"),
        ("CONSOLE_ALLOWED_DOMAINS", "*.example.com", "CONSOLE_ALLOWED_DOMAINS: item 1 has a wildcard"),
        ("CONSOLE_ALLOWED_DOMAINS", "example.com secret_token", "CONSOLE_ALLOWED_DOMAINS: item 2 is not a domain"),
        ("CONSOLE_ALLOWED_DOMAINS", "com", "CONSOLE_ALLOWED_DOMAINS: item 1 is not a domain"),
        ("CONSOLE_ROLES", "admin ana@example.com", "CONSOLE_ROLES: group 1 is not of the form role=who"),
        ("CONSOLE_ROLES", "viewer=a.example; root=secret.example", "CONSOLE_ROLES: group 2's role must be one of"),
        ("CONSOLE_ROLES", "admin=secret_token", "CONSOLE_ROLES: group 1 names something that is not an e-mail"),
        ("CONSOLE_ROLES", "admin=example.com; viewer=example.com", "CONSOLE_ROLES: one address or domain is given two"),
        ("CONSOLE_DEFAULT_ROLE", "secret-root", "CONSOLE_DEFAULT_ROLE must be one of viewer, operator, admin"),
        ("CONSOLE_ROLE_CLAIM", "secret claim!", "CONSOLE_ROLE_CLAIM must be a claim name"),
        ("CONSOLE_SESSION_HOURS", "0", "CONSOLE_SESSION_HOURS must be at least 0.01"),
        ("CONSOLE_SESSION_HOURS", "721", "CONSOLE_SESSION_HOURS must be at most 720"),
        ("CONSOLE_SESSION_HOURS", "secret", "CONSOLE_SESSION_HOURS must be a number"),
    ],
)
def test_a_wrong_setting_is_named_and_its_value_is_not(tmp_path: Path, key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        demo_settings(tmp_path, **{key: value})
    assert "secret" not in str(caught.value)


def test_the_role_claim_and_the_role_mapping_are_one_or_the_other(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CONSOLE_ROLE_CLAIM and CONSOLE_ROLES cannot both be set"):
        demo_settings(tmp_path, CONSOLE_ROLE_CLAIM="groups", CONSOLE_ROLES="admin=ana@example.com")


def test_the_accounts_command_needs_no_secret_in_live_mode_and_holds_none(tmp_path: Path) -> None:
    bare = {"CONSOLE_MODE": "live", "CONSOLE_DATA_DIR": str(tmp_path)}
    settings = load_settings(bare, secrets_path=tmp_path / "none.toml", role="accounts")
    assert settings.console_db_path == tmp_path / "console.db"
    env = {
        **live_env(tmp_path, PASSWORD),
        "CONSOLE_ALERT_URLS": "json://alerts.example.com/hook?token=secret",
        "CONSOLE_MESSAGING_WEBHOOK_URL": "https://inbox.example.com/wa/{channel_id}?token=secret",
        "CONSOLE_MESSAGING_WEBHOOK_HEADERS": '{"X-Token": "secret"}',
        "RECEIVER_AUTH_HEADER_NAME": "x-partner-token",
        "RECEIVER_AUTH_HEADER_VALUE": "a-strong-shared-token-Zq81",
    }
    full = load_settings(env, role="accounts")
    assert (full.partner_api_key, full.username, full.password, full.password_hash) == (None, None, None, None)
    assert (full.platform_secret, full.encryption_key, full.receiver_auth_header_value) == ("", "", None)
    assert (full.alerts.urls, full.messaging_webhook_url, full.messaging_webhook_headers) == ((), None, {})
    demo = load_settings(
        {"CONSOLE_MODE": "demo", "CONSOLE_DATA_DIR": str(tmp_path)},
        secrets_path=tmp_path / "none.toml",
        role="accounts",
    )
    assert (demo.partner_api_key, demo.encryption_key) == (None, "")
