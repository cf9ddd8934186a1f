"""A stored key opened for one Messaging API client: decrypted from the vault, sent only where its destination
allows; readiness and key health take that destination from the same settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from cryptography.fernet import Fernet

from services.keys.health.checks import HealthConfig
from services.keys.key_api import KeyDestination, open_key_api
from services.keys.readiness import ReadinessConfig
from services.keys.vault import KeyVault, VaultError
from services.messaging_api import MessagingApiError
from services.settings import load_settings

ADDRESS = "https://waba-v2.360dialog.io"
KEY = "stored-key-value-1234"


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault(Fernet.generate_key().decode())


@responses.activate
def test_the_stored_key_goes_to_its_own_address_in_its_header(vault: KeyVault) -> None:
    responses.get(f"{ADDRESS}/health_status", json={"health_status": {"can_send_message": "AVAILABLE"}})
    stored = {"address": ADDRESS, "key_encrypted": vault.seal(KEY)}
    with open_key_api(stored, vault, KeyDestination()) as api:
        assert api.health_status().available
    assert responses.calls[0].request.headers["D360-API-KEY"] == KEY


@pytest.mark.parametrize(
    ("address", "rules"),
    [
        ("https://messaging.elsewhere.example", KeyDestination()),
        ("http://127.0.0.1:8503", KeyDestination(demo_mode=False)),
        ("https://waba-v2.360dialog.io", KeyDestination(allowed_hosts=("messaging.partner-proxy.example",))),
    ],
)
@responses.activate
def test_an_address_the_rules_do_not_allow_is_refused_before_anything_is_sent(
    vault: KeyVault, address: str, rules: KeyDestination
) -> None:
    with pytest.raises(MessagingApiError) as refused:
        open_key_api({"address": address, "key_encrypted": vault.seal(KEY)}, vault, rules)
    assert refused.value.kind == "refused_host"
    assert KEY not in str(refused.value)
    assert len(responses.calls) == 0


def test_this_machine_is_allowed_in_demo_mode(vault: KeyVault) -> None:
    stored = {"address": "http://127.0.0.1:8503", "key_encrypted": vault.seal(KEY)}
    with open_key_api(stored, vault, KeyDestination(demo_mode=True, timeout=3.0)) as api:
        assert (api.address, api.timeout) == ("http://127.0.0.1:8503", 3.0)


def test_a_key_sealed_by_another_vault_is_not_opened(vault: KeyVault) -> None:
    other = KeyVault(Fernet.generate_key().decode())
    with pytest.raises(VaultError):
        open_key_api({"address": ADDRESS, "key_encrypted": other.seal(KEY)}, vault, KeyDestination())


def test_readiness_and_key_health_take_the_same_destination_from_the_settings(tmp_path: Path) -> None:
    env = {
        "CONSOLE_DATA_DIR": str(tmp_path),
        "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"),
        "CONSOLE_MESSAGING_API_HOSTS": "messaging.partner-proxy.example",
        "D360_HTTP_TIMEOUT_SECONDS": "7",
    }
    settings = load_settings(env)
    assert "messaging.partner-proxy.example" in settings.messaging_api_hosts
    wanted = {"timeout": 7.0, "allowed_hosts": settings.messaging_api_hosts, "demo_mode": True}
    for config in (ReadinessConfig.from_settings(settings), HealthConfig.from_settings(settings)):
        assert {name: getattr(config, name) for name in wanted} == wanted
