"""A stored key at work: decrypted from the vault for one Messaging API client, sent only where the settings
allow. Key readiness and key health both open a key this way, each configured with a `KeyDestination`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.keys.vault import KeyVault
from services.messaging_api import DEFAULT_MESSAGING_API_HOSTS, MessagingApi
from services.settings import Settings


@dataclass(frozen=True, kw_only=True)
class KeyDestination:
    """Where a key may be sent and how long a call may take: the part of a readiness or key-health configuration
    that opens a key (keyword-only, so each configuration keeps its own fields first)."""

    timeout: float = 10.0
    # Where a key may be sent (CONSOLE_MESSAGING_API_HOSTS); this machine only in demo mode.
    allowed_hosts: tuple[str, ...] = DEFAULT_MESSAGING_API_HOSTS
    demo_mode: bool = False

    @staticmethod
    def settings_fields(settings: Settings) -> dict[str, Any]:
        """These fields as the settings give them, for a configuration's `from_settings`."""
        return {
            "timeout": settings.http_timeout_seconds,
            "allowed_hosts": settings.messaging_api_hosts,
            "demo_mode": settings.demo_mode,
        }


def open_key_api(
    key: Mapping[str, Any], vault: KeyVault, destination: KeyDestination, *, retry_reads: bool = True
) -> MessagingApi:
    """A Messaging API client for the stored key (`address`, `key_encrypted`), to use in a `with` block that drops
    the key in clear at its end. Raises VaultError when the key cannot be decrypted and MessagingApiError
    (`refused_host`) when its address is not one the destination allows: in both cases nothing was sent."""
    return MessagingApi(
        key["address"],
        vault.open(key["key_encrypted"]),
        allowed_hosts=destination.allowed_hosts,
        demo_mode=destination.demo_mode,
        timeout=destination.timeout,
        retry_reads=retry_reads,
    )
