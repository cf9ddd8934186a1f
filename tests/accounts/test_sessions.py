"""Server-side sessions of password accounts: a reload resumes; sign-out, expiry, removal and a password reset
end them; a role change applies at once; the cookie's signature refuses tampering."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from services.accounts import (
    ADMIN,
    OPERATOR,
    VIEWER,
    Person,
    SignInMethod,
    add_account,
    authenticate,
    cookie_secret,
    demo_person,
    end_session,
    end_sessions_of,
    remove_account,
    reset_password,
    resume_session,
    set_role,
    sign_token,
    start_session,
    unsign_token,
)
from services.accounts.sessions import NoSessionForThisPerson
from services.store import open_console_db

PASSWORD = "correct horse battery staple"
SECRET = cookie_secret(Fernet.generate_key().decode())
BOSS = Person(id="boss@example.com", display_name="Boss", role=ADMIN, method=SignInMethod.SSO)


@pytest.fixture
def ana(db):
    add_account(db, BOSS, "ana", PASSWORD, OPERATOR, "Ana Lopez")
    person = authenticate(db, "ana", PASSWORD)
    assert person is not None
    return person


def test_a_session_resumes_in_another_connection_as_a_reload_would(db, db_path, ana) -> None:
    token = start_session(db, ana, hours=12)
    other = open_console_db(db_path)
    try:
        assert resume_session(other, token) == ana
        assert resume_session(other, token) == ana
    finally:
        other.close()


def test_only_a_digest_of_the_token_is_stored(db, ana) -> None:
    token = start_session(db, ana, hours=12)
    (row,) = db["sessions"].rows
    assert row["id"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(row)
    assert len(token) >= 43


def test_an_unknown_token_resumes_nothing(db, ana) -> None:
    start_session(db, ana, hours=12)
    assert resume_session(db, "not-a-token") is None
    assert resume_session(db, "") is None


def test_signing_out_ends_the_session_only(db, ana) -> None:
    first, second = start_session(db, ana, hours=12), start_session(db, ana, hours=12)
    end_session(db, first)
    assert resume_session(db, first) is None
    assert resume_session(db, second) == ana


def test_a_session_expires_after_its_hours(db, ana) -> None:
    started = datetime.now(UTC)
    token = start_session(db, ana, hours=2, now=started)
    assert resume_session(db, token, now=started + timedelta(hours=2) - timedelta(seconds=1)) == ana
    assert resume_session(db, token, now=started + timedelta(hours=2)) is None


def test_removing_the_account_ends_its_sessions(db, ana) -> None:
    token = start_session(db, ana, hours=12)
    assert remove_account(db, BOSS, "ana") == 1
    assert resume_session(db, token) is None
    # A new account under the same name does not inherit them.
    add_account(db, BOSS, "ana", PASSWORD, ADMIN)
    assert resume_session(db, token) is None


def test_a_password_reset_ends_the_sessions(db, ana) -> None:
    token = start_session(db, ana, hours=12)
    assert reset_password(db, BOSS, "ana", "a brand new password") == 1
    assert resume_session(db, token) is None


def test_ending_every_session_of_an_account(db, ana) -> None:
    add_account(db, BOSS, "bob", PASSWORD, VIEWER)
    bob = authenticate(db, "bob", PASSWORD)
    tokens = [start_session(db, ana, hours=12) for _ in range(3)]
    kept = start_session(db, bob, hours=12)  # type: ignore[arg-type]
    assert end_sessions_of(db, "ANA") == 3
    assert [resume_session(db, token) for token in tokens] == [None] * 3
    assert resume_session(db, kept) == bob


def test_a_role_change_applies_to_an_open_session(db, ana) -> None:
    token = start_session(db, ana, hours=12)
    set_role(db, BOSS, "ana", VIEWER)
    resumed = resume_session(db, token)
    assert resumed is not None
    assert (resumed.role, resumed.method) == (VIEWER, SignInMethod.PASSWORD)
    # The role it started with stays on record.
    assert db["sessions"].get(hashlib.sha256(token.encode()).hexdigest())["role"] == OPERATOR


def test_last_seen_is_written_at_most_once_a_minute(db, ana) -> None:
    started = datetime.now(UTC)
    token = start_session(db, ana, hours=12, now=started)
    resume_session(db, token, now=started + timedelta(seconds=30))
    (row,) = db["sessions"].rows
    assert row["last_seen_at"] == started.isoformat(timespec="microseconds")
    resume_session(db, token, now=started + timedelta(minutes=2))
    (row,) = db["sessions"].rows
    assert row["last_seen_at"] == (started + timedelta(minutes=2)).isoformat(timespec="microseconds")


def test_only_a_password_account_gets_a_console_session(db, ana) -> None:
    with pytest.raises(NoSessionForThisPerson):
        start_session(db, demo_person(), hours=12)
    remove_account(db, BOSS, "ana")
    with pytest.raises(NoSessionForThisPerson):
        start_session(db, ana, hours=12)


def test_the_signed_cookie_gives_the_token_back() -> None:
    value = sign_token("the-token", SECRET)
    assert value.startswith("the-token.")
    assert unsign_token(value, SECRET, max_age_seconds=60) == "the-token"


def test_a_tampered_cookie_is_refused() -> None:
    value = sign_token("the-token", SECRET)
    token, stamp, signature = value.split(".")
    # The first character: the last one's low bits are base64 padding that decoding ignores.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for tampered in (
        f"other-token.{stamp}.{signature}",
        f"{token}.{stamp}.{flipped}",
        f"{token}.{stamp}",
        "the-token",
        "",
        "..",
        value + "x",
    ):
        assert unsign_token(tampered, SECRET, max_age_seconds=60) is None, tampered
    assert unsign_token(value, cookie_secret(Fernet.generate_key().decode()), max_age_seconds=60) is None


def test_an_old_cookie_is_refused(monkeypatch) -> None:
    value = sign_token("the-token", SECRET)
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert unsign_token(value, SECRET, max_age_seconds=3600) is None
    assert unsign_token(value, SECRET, max_age_seconds=7200) == "the-token"


def test_the_cookie_key_is_derived_not_the_encryption_key_itself() -> None:
    key = Fernet.generate_key().decode()
    assert cookie_secret(key) == cookie_secret(key)
    assert cookie_secret(key) != key.encode()
    assert len(cookie_secret(key)) == 32
