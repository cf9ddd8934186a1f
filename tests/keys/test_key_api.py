"""A stored key opened for one Messaging API client: decrypted from the vault, sent only where the rules allow."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import responses
from cryptography.fernet import Fernet

from services.keys.key_api import open_key_api
from services.keys.vault import KeyVault, VaultError
from services.messaging_api import DEFAULT_MESSAGING_API_HOSTS, MessagingApiError

ADDRESS = "https://waba-v2.360dialog.io"
KEY = "stored-key-value-1234"


@dataclass(frozen=True)
class Rules:
    timeout: float = 2.0
    allowed_hosts: tuple[str, ...] = DEFAULT_MESSAGING_API_HOSTS
    demo_mode: bool = False


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault(Fernet.generate_key().decode())


@responses.activate
def test_the_stored_key_goes_to_its_own_address_in_its_header(vault: KeyVault) -> None:
    responses.get(f"{ADDRESS}/health_status", json={"health_status": {"can_send_message": "AVAILABLE"}})
    stored = {"address": ADDRESS, "key_encrypted": vault.seal(KEY)}
    with open_key_api(stored, vault, Rules()) as api:
        assert api.health_status().available
    assert responses.calls[0].request.headers["D360-API-KEY"] == KEY


@pytest.mark.parametrize(
    ("address", "rules"),
    [
        ("https://messaging.elsewhere.example", Rules()),
        ("http://127.0.0.1:8503", Rules(demo_mode=False)),
        ("https://waba-v2.360dialog.io", Rules(allowed_hosts=("messaging.partner-proxy.example",))),
    ],
)
@responses.activate
def test_an_address_the_rules_do_not_allow_is_refused_before_anything_is_sent(
    vault: KeyVault, address: str, rules: Rules
) -> None:
    with pytest.raises(MessagingApiError) as refused:
        open_key_api({"address": address, "key_encrypted": vault.seal(KEY)}, vault, rules)
    assert refused.value.kind == "refused_host"
    assert KEY not in str(refused.value)
    assert len(responses.calls) == 0


def test_this_machine_is_allowed_in_demo_mode(vault: KeyVault) -> None:
    stored = {"address": "http://127.0.0.1:8503", "key_encrypted": vault.seal(KEY)}
    with open_key_api(stored, vault, Rules(demo_mode=True, timeout=3.0)) as api:
        assert (api.address, api.timeout) == ("http://127.0.0.1:8503", 3.0)


def test_a_key_sealed_by_another_vault_is_not_opened(vault: KeyVault) -> None:
    other = KeyVault(Fernet.generate_key().decode())
    with pytest.raises(VaultError):
        open_key_api({"address": ADDRESS, "key_encrypted": other.seal(KEY)}, vault, Rules())
