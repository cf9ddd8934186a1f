"""The hub's own reading of 360dialog's two signatures (contract sections 3 and 5).

Written apart from the console's `services.onboarding.io_signature` and `services.events.signature` on
purpose: when the hub checks the console's IO links and the receiver checks the hub's webhooks, two
independent readings of the contract meet, instead of one function agreeing with itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

WEBHOOK_SIGNATURE_HEADER = "x-360dialog-signature"
IO_SIGNATURE_LIFETIME_SECONDS = 24 * 60 * 60


def webhook_signature(body: bytes, platform_secret: str) -> str:
    """HMAC-SHA256 of the raw body with the Platform Secret, as bare lowercase hex."""
    return hmac.new(platform_secret.encode(), body, hashlib.sha256).hexdigest()


def io_signature_valid(partner_id: str, timestamp: int, signature: str, platform_secret: str, encoding: str) -> bool:
    """Whether `signature` is HMAC-SHA512 of "{partner_id}|{timestamp}" in the partner's chosen encoding."""
    digest = hmac.new(platform_secret.encode(), f"{partner_id}|{timestamp}".encode(), hashlib.sha512).digest()
    expected = base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
