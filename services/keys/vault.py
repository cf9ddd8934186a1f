"""API keys encrypted at rest with Fernet; only the last four characters are ever kept in clear."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class VaultError(Exception):
    """A stored key cannot be decrypted (wrong or rotated encryption key)."""


class KeyVault:
    def __init__(self, encryption_key: str) -> None:
        self._fernet = Fernet(encryption_key.encode())

    def __repr__(self) -> str:
        return "KeyVault(<hidden>)"

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise VaultError("the stored key cannot be decrypted with the configured CONSOLE_ENCRYPTION_KEY") from None


def last_four(secret: str) -> str:
    return secret[-4:]
