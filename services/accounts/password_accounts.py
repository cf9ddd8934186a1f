"""Password accounts, for teams without single sign-on: each person their own, kept in the console database.

The password is kept only as a scrypt hash (services/password_hash.py). Names are lower case, one account per
name at a time; a removed account keeps its row, so the audit still names it, and its sessions end. Resetting a
password ends the account's sessions too. Adding, resetting, removing and changing a role are the
`manage_accounts` action: each takes the acting person, refuses unless they are an admin, and is audited.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts.enforcement import enforce
from services.accounts.roles import Person, SignInMethod, audit_fields, check_role
from services.password_hash import MIN_PASSWORD_LENGTH, hash_password, verify_password
from services.store import utc_now

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MAX_DISPLAY_NAME = 64
ACTIVE = "removed_at is null"
MANAGE = "manage_accounts"


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why and never holds a password."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    display_name: str
    role: str
    created_at: str
    password_changed_at: str
    last_sign_in_at: str | None


def check_name(name: str) -> str:
    normalised = name.strip().lower()
    if not NAME_PATTERN.fullmatch(normalised):
        raise AccountError(
            "an account name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return normalised


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return password


def check_display_name(display_name: str | None, name: str) -> str:
    shown = (display_name or "").strip() or name
    if len(shown) > MAX_DISPLAY_NAME or not shown.isprintable():
        raise AccountError(f"a display name is printable and at most {MAX_DISPLAY_NAME} characters")
    return shown


def _account(row: dict[str, Any]) -> Account:
    return Account(**{name: row[name] for name in Account.__dataclass_fields__})


def _row(db: Database, name: str) -> dict[str, Any] | None:
    rows = db["accounts"].rows_where(f"name = ? and {ACTIVE}", [name], limit=1)
    return next(iter(rows), None)


def _require(db: Database, name: str) -> dict[str, Any]:
    row = _row(db, check_name(name))
    if row is None:
        raise AccountError(f"there is no account named {check_name(name)}")
    return row


def _audit(db: Database, actor: Person, command: str, detail: str) -> None:
    audit.record(db, **audit_fields(actor), action=f"account_{command}", outcome="ok", detail=detail)


def add_account(
    db: Database, actor: Person, name: str, password: str, role: str, display_name: str | None = None
) -> Account:
    enforce(db, actor, MANAGE)
    normalised = check_name(name)
    check_role(role)
    hashed = hash_password(check_password(password))
    now = utc_now()
    with db.atomic():
        if _row(db, normalised) is not None:
            raise AccountError(f"an account named {normalised} exists already")
        db["accounts"].insert(
            {
                "name": normalised,
                "display_name": check_display_name(display_name, normalised),
                "role": role,
                "password_hash": hashed,
                "created_at": now,
                "password_changed_at": now,
            }
        )
        _audit(db, actor, "add", f"{normalised} as {role}")
    return get_account(db, normalised)


def get_account(db: Database, name: str) -> Account:
    return _account(_require(db, name))


def list_accounts(db: Database) -> list[Account]:
    """Current accounts by name; never their hashes."""
    return [_account(row) for row in db["accounts"].rows_where(ACTIVE, order_by="name")]


def has_accounts(db: Database) -> bool:
    """Whether any password account exists: a live console without single sign-on needs one."""
    return bool(db.execute(f"select exists (select 1 from accounts where {ACTIVE})").fetchone()[0])  # noqa: S608 - a constant


def reset_password(db: Database, actor: Person, name: str, password: str) -> int:
    """Set a new password; the account's sessions end. Returns how many ended."""
    enforce(db, actor, MANAGE)
    hashed = hash_password(check_password(password))
    with db.atomic():
        row = _require(db, name)
        db["accounts"].update(row["id"], {"password_hash": hashed, "password_changed_at": utc_now()})
        ended = _end_sessions(db, row["id"])
        _audit(db, actor, "reset", f"{row['name']}; {ended} session(s) ended")
    return ended


def remove_account(db: Database, actor: Person, name: str) -> int:
    """Remove the account and end its sessions; returns how many ended."""
    enforce(db, actor, MANAGE)
    with db.atomic():
        row = _require(db, name)
        db["accounts"].update(row["id"], {"removed_at": utc_now()})
        ended = _end_sessions(db, row["id"])
        _audit(db, actor, "remove", f"{row['name']}; {ended} session(s) ended")
    return ended


def set_role(db: Database, actor: Person, name: str, role: str) -> Account:
    """Change the role; open sessions act in the new role from their next request."""
    enforce(db, actor, MANAGE)
    check_role(role)
    with db.atomic():
        row = _require(db, name)
        db["accounts"].update(row["id"], {"role": role})
        _audit(db, actor, "role", f"{row['name']} from {row['role']} to {role}")
    return get_account(db, name)


def _end_sessions(db: Database, account_id: int) -> int:
    cursor = db.execute(
        "update sessions set ended_at = ? where account_id = ? and ended_at is null", [utc_now(), account_id]
    )
    return cursor.rowcount


@functools.cache
def _dummy_hash() -> str:
    # A name that exists and one that does not cost the same scrypt run, so timing tells no names apart.
    return hash_password(secrets.token_urlsafe(16))


def person_of(row: dict[str, Any]) -> Person:
    return Person(id=row["name"], display_name=row["display_name"], role=row["role"], method=SignInMethod.PASSWORD)


def authenticate(db: Database, name: str, password: str) -> Person | None:
    """The person whose account this name and password open; None otherwise, after as much work either way."""
    normalised = name.strip().lower()
    row = _row(db, normalised) if NAME_PATTERN.fullmatch(normalised) else None
    if row is None:
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, row["password_hash"]):
        return None
    with db.atomic():
        db["accounts"].update(row["id"], {"last_sign_in_at": utc_now()})
    return person_of(row)
