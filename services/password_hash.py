"""The console's login password, kept only as a salted scrypt hash (`CONSOLE_PASSWORD_HASH`).

`python -m services.password_hash` asks for a password twice and prints the hash to put in secrets.
Format: `scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>`.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import secrets
import sys

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 12
# Bounds on parameters read from secrets: a hash with absurd costs must not stall or exhaust the console.
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16


class InvalidPasswordHash(ValueError):
    """The stored hash is not in the expected format (the message never repeats it)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # maxmem must cover 128 * n * r bytes plus overhead, or OpenSSL refuses larger costs.
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * n * r + 2**20)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise InvalidPasswordHash("CONSOLE_PASSWORD_HASH is not a hash made by `python -m services.password_hash`")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise InvalidPasswordHash("CONSOLE_PASSWORD_HASH has unreadable parameters, salt or hash") from None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not (power_of_two and n <= MAX_SCRYPT_N and 1 <= r <= MAX_SCRYPT_R and 1 <= p <= MAX_SCRYPT_P):
        raise InvalidPasswordHash("CONSOLE_PASSWORD_HASH has scrypt costs out of range")
    if len(salt) < 8 or len(digest) < 16:
        raise InvalidPasswordHash("CONSOLE_PASSWORD_HASH has too short a salt or hash")
    return n, r, p, salt, digest


def check_hash_format(stored: str) -> None:
    """Raise InvalidPasswordHash when `stored` cannot be used to verify a password."""
    _parse(stored)


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; compared in constant time."""
    n, r, p, salt, digest = _parse(stored)
    candidate = _scrypt(password, salt, n, r, p, len(digest))
    return hmac.compare_digest(candidate, digest)


def main() -> int:
    password = getpass.getpass("Console password: ")
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"password_hash: use at least {MIN_PASSWORD_LENGTH} characters", file=sys.stderr)
        return 2
    if getpass.getpass("Again: ") != password:
        print("password_hash: the two entries differ", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
