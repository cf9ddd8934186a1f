"""A stored key at work: decrypted from the vault for one Messaging API client, sent only where the settings
allow. Key readiness and key health both open a key this way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from services.keys.vault import KeyVault
from services.messaging_api import MessagingApi


class KeyDestinationRules(Protocol):
    """Where a key may be sent and how long a call may take (a readiness or a key-health configuration)."""

    @property
    def timeout(self) -> float: ...

    @property
    def allowed_hosts(self) -> tuple[str, ...]: ...

    @property
    def demo_mode(self) -> bool: ...


def open_key_api(
    key: Mapping[str, Any], vault: KeyVault, rules: KeyDestinationRules, *, retry_reads: bool = True
) -> MessagingApi:
    """A Messaging API client for the stored key (`address`, `key_encrypted`), to use in a `with` block that drops
    the key in clear at its end. Raises VaultError when the key cannot be decrypted and MessagingApiError
    (`refused_host`) when its address is not one the rules allow: in both cases nothing was sent."""
    return MessagingApi(
        key["address"],
        vault.open(key["key_encrypted"]),
        allowed_hosts=rules.allowed_hosts,
        demo_mode=rules.demo_mode,
        timeout=rules.timeout,
        retry_reads=retry_reads,
    )
