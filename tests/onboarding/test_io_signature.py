"""IO Signature (contract section 3): HMAC-SHA512 of "{partner_id}|{unix_seconds}" with the Platform Secret."""

from __future__ import annotations

import pytest

from services.onboarding.io_signature import (
    SIGNATURE_LIFETIME_SECONDS,
    compute_io_signature,
    seconds_left,
    sign_io,
)
from services.sandbox.signing import io_signature_valid

SECRET = "platform-secret-123"
# Computed independently: printf 'abcPA|1700000000' | openssl dgst -sha512 -hmac 'platform-secret-123'
OPENSSL_HEX = (
    "9ba4baa020ed05b0db8bf2c5fa550447c52f8f7cdae9a9bcec3b807a4d9b8765"
    "811d76561c703b59e10d42450971692cae0009ea72afa73013cf3cc773176059"
)
# ... -binary | base64
OPENSSL_BASE64 = "m6S6oCDtBbDbi/LF+lUER8Uvj3za6am87DuAek2bh2WBHXZWHHA7WeENQkUJcWksrgAJ6nKvpzATzzzHcxdgWQ=="


def test_hex_matches_openssl() -> None:
    assert compute_io_signature("abcPA", 1700000000, SECRET) == OPENSSL_HEX


def test_base64_matches_openssl() -> None:
    assert compute_io_signature("abcPA", 1700000000, SECRET, encoding="base64") == OPENSSL_BASE64


@pytest.mark.parametrize(
    ("partner_id", "timestamp", "secret"),
    [("abcPB", 1700000000, SECRET), ("abcPA", 1700000001, SECRET), ("abcPA", 1700000000, SECRET + "x")],
)
def test_any_change_in_the_signed_string_or_key_changes_the_signature(
    partner_id: str, timestamp: int, secret: str
) -> None:
    assert compute_io_signature(partner_id, timestamp, secret) != OPENSSL_HEX


def test_sign_io_uses_the_current_second() -> None:
    signature = sign_io("abcPA", SECRET, now=1700000000.9)
    assert signature.timestamp == 1700000000
    assert signature.signature == OPENSSL_HEX


def test_the_signature_is_not_in_the_repr() -> None:
    assert OPENSSL_HEX not in repr(sign_io("abcPA", SECRET, now=1700000000))


@pytest.mark.parametrize(
    ("elapsed", "left"),
    [(0, SIGNATURE_LIFETIME_SECONDS), (1, SIGNATURE_LIFETIME_SECONDS - 1), (86_399, 1), (86_400, 0), (90_000, 0)],
)
def test_seconds_left_counts_down_24_hours(elapsed: int, left: int) -> None:
    assert seconds_left(1700000000, now=1700000000 + elapsed) == left
    assert sign_io("abcPA", SECRET, now=1700000000).seconds_left(now=1700000000 + elapsed) == left


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_the_hubs_own_check_accepts_the_consoles_signature_and_nothing_else(encoding: str) -> None:
    signature = compute_io_signature("abcPA", 1700000000, SECRET, encoding=encoding)
    assert io_signature_valid("abcPA", 1700000000, signature, SECRET, encoding)
    assert not io_signature_valid("abcPA", 1700000001, signature, SECRET, encoding)
    assert not io_signature_valid("abcPB", 1700000000, signature, SECRET, encoding)
    assert not io_signature_valid("abcPA", 1700000000, signature.upper() + "0", SECRET, encoding)


@pytest.mark.parametrize(
    ("partner_id", "secret", "encoding", "message"),
    [
        ("abcPA", "", "hex", "Platform Secret is empty"),
        ("", SECRET, "hex", "partner id is empty"),
        ("abcPA", SECRET, "base32", "encoding must be one of hex, base64"),
    ],
)
def test_refuses_what_cannot_make_a_signature(partner_id: str, secret: str, encoding: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_io_signature(partner_id, 1700000000, secret, encoding=encoding)
