"""Where a channel is in 360dialog's hub, built from the hub address in the settings (the sandbox hub in demo
mode). The path below the partner is unconfirmed (docs/contract.md): the hub lists a partner's channels there."""

from __future__ import annotations

from urllib.parse import quote


def hub_channel_url(hub_url: str, partner_id: str, channel_id: str) -> str:
    """`<hub>/<partner>/channels/<channel>`, each id quoted as one path segment."""
    return f"{hub_url.rstrip('/')}/{quote(partner_id, safe='')}/channels/{quote(channel_id, safe='')}"
