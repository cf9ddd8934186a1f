"""The operator's password hash: salted scrypt, malformed hashes refused, and the CLI that makes one."""

from __future__ import annotations

import pytest

from services import password_hash
from services.password_hash import InvalidPasswordHash, hash_password, verify_password

PASSWORD = "correct horse battery staple"


def test_hash_verifies_only_its_password_and_is_salted() -> None:
    stored = hash_password(PASSWORD)
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert not verify_password("", stored)
    assert hash_password(PASSWORD) != stored
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "scrypt$16384$8$1$c2FsdA==",
        "bcrypt$x$y$z$a$b",
        "scrypt$3$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
        "scrypt$1073741824$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
        "scrypt$16384$8$1$!!$aGFzaA==",
    ],
)
def test_malformed_hashes_are_refused(stored: str) -> None:
    with pytest.raises(InvalidPasswordHash):
        verify_password(PASSWORD, stored)


def test_the_cli_prints_a_hash_of_the_typed_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(password_hash.getpass, "getpass", lambda prompt="": PASSWORD)
    assert password_hash.main() == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password(PASSWORD, printed)
    assert PASSWORD not in printed


def test_the_cli_refuses_a_short_or_mistyped_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(password_hash.getpass, "getpass", lambda prompt="": "short")
    assert password_hash.main() == 2
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(password_hash.getpass, "getpass", lambda prompt="": next(answers))
    assert password_hash.main() == 2
    assert capsys.readouterr().out == ""
