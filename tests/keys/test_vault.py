import pytest
from cryptography.fernet import Fernet

from services.keys.vault import KeyVault, VaultError, last_four


def test_sealed_keys_open_again_and_hide_the_key() -> None:
    vault = KeyVault(Fernet.generate_key().decode())
    token = vault.seal("secret-api-key-1234")
    assert "secret-api-key" not in token
    assert vault.open(token) == "secret-api-key-1234"
    assert "secret" not in repr(vault)


def test_another_encryption_key_cannot_open() -> None:
    token = KeyVault(Fernet.generate_key().decode()).seal("secret-api-key")
    with pytest.raises(VaultError, match="CONSOLE_ENCRYPTION_KEY") as raised:
        KeyVault(Fernet.generate_key().decode()).open(token)
    assert "secret-api-key" not in str(raised.value)


def test_last_four() -> None:
    assert last_four("abcdefgh") == "efgh"
