import base64
import hashlib
import hmac

import pytest

from services.events.signature import check_signature, sign_body, verify_shared_token, verify_signature

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


FORMS_BODY = b'{"event":"channel_created","data":{"id":"aCH"}}'
FORMS_SECRET = "platform-secret-0123456789"


def _digest() -> bytes:
    return hmac.new(FORMS_SECRET.encode(), FORMS_BODY, hashlib.sha256).digest()


@pytest.mark.parametrize(
    ("header", "form"),
    [
        (_digest().hex(), "hex"),
        (_digest().hex().upper(), "upper-case hex"),
        ("sha256=" + _digest().hex(), "sha256=hex"),
        ("SHA256=" + _digest().hex().upper(), "sha256=upper-case hex"),
        (base64.b64encode(_digest()).decode(), "base64"),
        ("sha256=" + base64.b64encode(_digest()).decode(), "sha256=base64"),
        (base64.urlsafe_b64encode(_digest()).decode().rstrip("="), "URL-safe base64"),
    ],
)
def test_every_known_encoding_is_accepted_and_named(header: str, form: str) -> None:
    # The old behaviour: only lowercase hex; had 360dialog sent another form, every event got 401.
    assert check_signature(FORMS_BODY, header, FORMS_SECRET) == (None, form)


@pytest.mark.parametrize(
    "header",
    [
        base64.b64encode(b"x" * 32).decode(),
        "sha256=" + "0" * 64,
        "not a signature at all",
        _digest().hex()[:-2],
        base64.b64encode(_digest()).decode()[:-4],
    ],
)
def test_a_wrong_signature_in_any_form_is_refused_without_naming_the_right_one(header: str) -> None:
    problem, form = check_signature(FORMS_BODY, header, FORMS_SECRET)
    assert (problem, form) == ("signature does not match", "")
