"""Server-side sessions for password accounts, so a reload or a deep link in a new tab stays signed in.

A session is a random token the browser holds in a cookie; the database keeps only its SHA-256 digest, so
reading the table opens no session. A session lasts CONSOLE_SESSION_HOURS from its start, and ends earlier on
sign-out, when the account is removed or its password reset. Its role is read from the account at each resume,
so a role change applies at once. The cookie carries the token signed (itsdangerous, with its time), so a
cookie that was altered, or is older than the session can be, is refused before the database is asked.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, TimestampSigner
from sqlite_utils import Database

from services.accounts.password_accounts import ACTIVE, person_of
from services.accounts.roles import Person, SignInMethod
from services.store import utc_now

TOKEN_BYTES = 32
SIGNER_SALT = "console-session"
COOKIE_KEY_INFO = b"onboarding console: session cookie signing key"
# last_seen_at is written at most this often, so resuming on every rerun costs a read, not a write.
LAST_SEEN_EVERY = timedelta(minutes=1)


class NoSessionForThisPerson(ValueError):
    """Sessions are kept for password accounts only; single sign-on keeps its own."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def start_session(db: Database, person: Person, hours: float, *, now: datetime | None = None) -> str:
    """A new session for a password account's person; returns its token, which only the browser keeps."""
    if person.method is not SignInMethod.PASSWORD:
        raise NoSessionForThisPerson("only a password account has a console session")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    started = _now(now)
    with db.atomic():
        account = db.execute(f"select id from accounts where name = ? and {ACTIVE}", [person.id]).fetchone()  # noqa: S608 - a constant
        if account is None:
            raise NoSessionForThisPerson("the account was removed")
        db["sessions"].insert(
            {
                "id": _digest(token),
                "account_id": account[0],
                "role": person.role,
                "created_at": _iso(started),
                "expires_at": _iso(started + timedelta(hours=hours)),
                "last_seen_at": _iso(started),
            }
        )
    return token


def _open_session(db: Database, token: str, now: datetime) -> dict[str, Any] | None:
    sql = f"""
        select sessions.id as session_id, sessions.last_seen_at, accounts.*
        from sessions join accounts on accounts.id = sessions.account_id
        where sessions.id = ? and sessions.ended_at is null and sessions.expires_at > ?
          and accounts.{ACTIVE}
    """  # noqa: S608 - a constant
    return next(db.query(sql, [_digest(token), _iso(now)]), None)


def resume_session(db: Database, token: str, *, now: datetime | None = None) -> Person | None:
    """The person of an open session, in the account's current role; None when the token is unknown, the
    session ended (sign-out, password reset) or expired, or the account was removed."""
    moment = _now(now)
    row = _open_session(db, token, moment)
    if row is None:
        return None
    if datetime.fromisoformat(row["last_seen_at"]) + LAST_SEEN_EVERY <= moment:
        with db.atomic():
            db["sessions"].update(row["session_id"], {"last_seen_at": _iso(moment)})
    return person_of(row)


def end_session(db: Database, token: str) -> None:
    """Sign-out: the session ends here, whatever copy of its cookie is left anywhere."""
    with db.atomic():
        db.execute("update sessions set ended_at = ? where id = ? and ended_at is null", [utc_now(), _digest(token)])


def end_sessions_of(db: Database, account: str) -> int:
    """End every open session of the named account; returns how many ended."""
    with db.atomic():
        cursor = db.execute(
            f"update sessions set ended_at = ? where ended_at is null and account_id in "  # noqa: S608 - a constant
            f"(select id from accounts where name = ? and {ACTIVE})",
            [utc_now(), account.strip().lower()],
        )
    return cursor.rowcount


def cookie_secret(encryption_key: str) -> bytes:
    """A key for signing session cookies, derived from CONSOLE_ENCRYPTION_KEY (HKDF), so no setting is added
    and the key that encrypts the API keys is never used for anything else."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=COOKIE_KEY_INFO).derive(
        encryption_key.encode("utf-8")
    )


def _signer(secret: str | bytes) -> TimestampSigner:
    return TimestampSigner(secret, salt=SIGNER_SALT, digest_method=hashlib.sha256)


def sign_token(token: str, secret: str | bytes) -> str:
    """The cookie's value: the token with its signing time and a signature."""
    return _signer(secret).sign(token).decode("ascii")


def unsign_token(value: str, secret: str | bytes, max_age_seconds: float) -> str | None:
    """The token from a cookie's value; None when it was altered, signed with another secret, or is older
    than `max_age_seconds`."""
    try:
        return _signer(secret).unsign(value, max_age=max_age_seconds).decode("ascii")
    except (BadSignature, UnicodeError):
        return None
