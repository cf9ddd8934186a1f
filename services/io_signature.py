"""IO Signature: HMAC-SHA512 over "{partner_id}|{unix_seconds}" with the Platform Secret (contract section 3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

SIGNATURE_LIFETIME_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class IoSignature:
    signature: str
    timestamp: int

    def seconds_left(self, now: float | None = None) -> int:
        current = time.time() if now is None else now
        return max(0, int(self.timestamp + SIGNATURE_LIFETIME_SECONDS - current))


def compute_io_signature(partner_id: str, timestamp: int, secret: str, *, encoding: str = "hex") -> str:
    digest = hmac.new(secret.encode(), f"{partner_id}|{timestamp}".encode(), hashlib.sha512).digest()
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    if encoding == "hex":
        return digest.hex()
    raise ValueError("encoding must be 'hex' or 'base64'")


def sign_io(partner_id: str, secret: str, *, encoding: str = "hex", now: float | None = None) -> IoSignature:
    """A fresh signature for one link; never cache it, the hub accepts each one once."""
    timestamp = int(time.time() if now is None else now)
    return IoSignature(compute_io_signature(partner_id, timestamp, secret, encoding=encoding), timestamp)


def io_signature_matches(
    partner_id: str, timestamp: int, signature: str, secret: str, *, encoding: str = "hex"
) -> bool:
    expected = compute_io_signature(partner_id, timestamp, secret, encoding=encoding)
    return hmac.compare_digest(expected.encode(), signature.encode())
