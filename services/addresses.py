"""Where a request came from: the socket's peer, or the hop a trusted proxy added (design: Trust).

`X-Forwarded-For` is read only when the peer is one of CONSOLE_TRUSTED_PROXIES, and then only its last entry:
the address that proxy itself saw. Anything a client wrote before it is ignored. A source is always an IP
address, never free text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN_SOURCE = "unknown"


class InvalidProxyList(ValueError):
    """CONSOLE_TRUSTED_PROXIES names something that is not an IP address or network."""


def parse_trusted_proxies(raw: str | None) -> tuple[Network, ...]:
    """'127.0.0.1, 10.0.0.0/8' to networks; empty or unset is none (no header is ever read)."""
    networks = []
    for position, item in enumerate((raw or "").replace(",", " ").split(), start=1):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise InvalidProxyList(f"item {position} is not an IP address or network") from None
    return tuple(networks)


def _ip(value: str | None) -> str | None:
    """The address in canonical form, or None for anything that is not one (a name, free text, a port)."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def is_trusted_proxy(peer: str | None, trusted: Iterable[Network]) -> bool:
    address = _ip(peer)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Iterable[Network]) -> str:
    """The request's source as an IP address: the peer, or (only behind a trusted proxy) the last hop of
    `X-Forwarded-For`. `unknown` when neither is an address."""
    trusted = tuple(trusted)
    peer_address = _ip(peer)
    if forwarded_for and is_trusted_proxy(peer_address, trusted):
        last_hop = _ip(forwarded_for.split(",")[-1])
        if last_hop is not None:
            return last_hop
    return peer_address or UNKNOWN_SOURCE
