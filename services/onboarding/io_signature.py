"""IO Signature: HMAC-SHA512 over "{partner_id}|{unix_seconds}" with the Platform Secret (contract section 3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

SIGNATURE_LIFETIME_SECONDS = 24 * 60 * 60
ENCODINGS = ("hex", "base64")


def seconds_left(timestamp: int, now: float | None = None) -> int:
    """Seconds before a signature made at `timestamp` expires; 0 once it has."""
    current = time.time() if now is None else now
    return max(0, int(timestamp + SIGNATURE_LIFETIME_SECONDS - current))


@dataclass(frozen=True)
class IoSignature:
    signature: str = field(repr=False)
    timestamp: int

    def seconds_left(self, now: float | None = None) -> int:
        return seconds_left(self.timestamp, now)


def compute_io_signature(partner_id: str, timestamp: int, secret: str, *, encoding: str = "hex") -> str:
    """HMAC-SHA512 of "{partner_id}|{timestamp}"; lowercase hex or standard base64 (the hub's choice is unconfirmed)."""
    if not secret:
        raise ValueError("the Platform Secret is empty; an IO Signature cannot be made")
    if not partner_id:
        raise ValueError("the partner id is empty; an IO Signature cannot be made")
    digest = hmac.new(secret.encode(), f"{partner_id}|{timestamp}".encode(), hashlib.sha512).digest()
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    if encoding == "hex":
        return digest.hex()
    raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")


def sign_io(partner_id: str, secret: str, *, encoding: str = "hex", now: float | None = None) -> IoSignature:
    """A fresh signature for one link; never cache it, the hub accepts each one once."""
    timestamp = int(time.time() if now is None else now)
    return IoSignature(compute_io_signature(partner_id, timestamp, secret, encoding=encoding), timestamp)
