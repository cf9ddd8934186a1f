import pytest

from services.events.signature import sign_body, verify_shared_token, verify_signature

SECRET = "platform-secret-for-tests"
BODY = b'{"event":"channel_created","data":{"id":"abcCH"}}'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (sign_body(BODY, SECRET), None),
        ("sha256=" + sign_body(BODY, SECRET), None),
        ("SHA256=" + sign_body(BODY, SECRET).upper(), None),
        (None, "missing signature"),
        ("", "missing signature"),
        (sign_body(BODY, "another-secret"), "signature does not match"),
        (sign_body(BODY + b" ", SECRET), "signature does not match"),
        ("sha256=", "signature does not match"),
        ("é" * 64, "signature does not match"),
    ],
)
def test_signature_verdicts(header: str | None, expected: str | None) -> None:
    assert verify_signature(BODY, header, SECRET) == expected


def test_known_vector() -> None:
    # HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published test vector.
    assert (
        sign_body(b"The quick brown fox jumps over the lazy dog", "key")
        == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("token-1", None),
        (None, "missing auth header"),
        ("token-2", "auth header does not match"),
        ("", "auth header does not match"),
    ],
)
def test_shared_token(header: str | None, expected: str | None) -> None:
    assert verify_shared_token(header, "token-1") == expected
