"""Password accounts in the console database: one per person, scrypt hashes only, sign-in that tells no
names apart, removal and reset."""

from __future__ import annotations

import pytest

from services.accounts import (
    ADMIN,
    OPERATOR,
    VIEWER,
    AccountError,
    NotAllowed,
    Person,
    SignInMethod,
    add_account,
    authenticate,
    get_account,
    has_accounts,
    list_accounts,
    password_accounts,
    remove_account,
    reset_password,
    set_role,
)

PASSWORD = "correct horse battery staple"
BOSS = Person(id="boss@example.com", display_name="Boss", role=ADMIN, method=SignInMethod.SSO)


def test_an_account_signs_in_with_its_own_password_only(db) -> None:
    add_account(db, BOSS, "Ana", PASSWORD, OPERATOR, "Ana Lopez")
    add_account(db, BOSS, "bob", "another long password", VIEWER)
    assert authenticate(db, "ana", PASSWORD) == Person(
        id="ana", display_name="Ana Lopez", role=OPERATOR, method=SignInMethod.PASSWORD
    )
    assert authenticate(db, " ANA ", PASSWORD) is not None
    assert authenticate(db, "ana", "another long password") is None
    assert authenticate(db, "bob", PASSWORD) is None
    assert authenticate(db, "nobody", PASSWORD) is None


def test_signing_in_is_noted_and_listed_without_hashes(db) -> None:
    add_account(db, BOSS, "ana", PASSWORD, ADMIN)
    assert get_account(db, "ana").last_sign_in_at is None
    authenticate(db, "ana", PASSWORD)
    (listed,) = list_accounts(db)
    assert listed.last_sign_in_at is not None
    assert "scrypt" not in repr(listed)


@pytest.mark.parametrize("name", ["nobody", "ana", "not a name!", ""])
def test_an_unknown_name_costs_the_same_scrypt_run_as_a_wrong_password(db, monkeypatch, name: str) -> None:
    add_account(db, BOSS, "ana", PASSWORD, ADMIN)
    checked: list[str] = []
    real = password_accounts.verify_password

    def counting(password: str, stored: str) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(password_accounts, "verify_password", counting)
    assert authenticate(db, name, "a wrong password here") is None
    assert len(checked) == 1
    assert checked[0].startswith("scrypt$16384$8$1$")


def test_names_are_one_per_person_whatever_the_case(db) -> None:
    add_account(db, BOSS, "ana", PASSWORD, ADMIN)
    with pytest.raises(AccountError, match="exists already"):
        add_account(db, BOSS, "ANA", PASSWORD, VIEWER)


@pytest.mark.parametrize("name", ["", " ", "ana lopez", "-ana", "a" * 65, "an\x00a", "ana\tx", "ána"])
def test_a_bad_name_is_refused(db, name: str) -> None:
    with pytest.raises(AccountError, match="account name"):
        add_account(db, BOSS, name, PASSWORD, VIEWER)
    assert not has_accounts(db)


def test_a_short_password_or_an_unknown_role_is_refused(db) -> None:
    with pytest.raises(AccountError, match="at least 12 characters"):
        add_account(db, BOSS, "ana", "short", VIEWER)
    with pytest.raises(ValueError, match="viewer, operator, admin"):
        add_account(db, BOSS, "ana", PASSWORD, "root")
    assert not has_accounts(db)


def test_reset_changes_the_password(db) -> None:
    add_account(db, BOSS, "ana", PASSWORD, ADMIN)
    reset_password(db, BOSS, "ana", "a brand new password")
    assert authenticate(db, "ana", PASSWORD) is None
    assert authenticate(db, "ana", "a brand new password") is not None


def test_a_removed_account_no_longer_signs_in_and_its_name_may_be_taken_again(db) -> None:
    add_account(db, BOSS, "ana", PASSWORD, ADMIN)
    assert has_accounts(db)
    remove_account(db, BOSS, "ana")
    assert not has_accounts(db)
    assert authenticate(db, "ana", PASSWORD) is None
    assert list_accounts(db) == []
    with pytest.raises(AccountError, match="no account named ana"):
        remove_account(db, BOSS, "ana")
    add_account(db, BOSS, "ana", "a brand new password", VIEWER)
    assert authenticate(db, "ana", "a brand new password").role == VIEWER  # type: ignore[union-attr]
    # The removed row stays for the audit's sake.
    assert db["accounts"].count == 2


def test_a_role_change_applies_to_the_next_sign_in(db) -> None:
    add_account(db, BOSS, "ana", PASSWORD, VIEWER)
    set_role(db, BOSS, "ana", OPERATOR)
    assert authenticate(db, "ana", PASSWORD).role == OPERATOR  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="viewer, operator, admin"):
        set_role(db, BOSS, "ana", "owner")


def test_the_database_never_holds_a_password_in_clear(db, db_path) -> None:
    add_account(db, BOSS, "ana", PASSWORD, ADMIN)
    reset_password(db, BOSS, "ana", "the second long password")
    db.conn.execute("pragma wal_checkpoint(truncate)")
    stored = b"".join(path.read_bytes() for path in db_path.parent.iterdir() if path.name.startswith("console.db"))
    assert b"ana" in stored
    assert PASSWORD.encode() not in stored
    assert b"the second long password" not in stored


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_only_an_admin_manages_accounts_and_a_refusal_changes_nothing(db, role: str) -> None:
    add_account(db, BOSS, "ana", PASSWORD, OPERATOR)
    actor = Person(id=f"{role}@example.com", display_name=role, role=role, method=SignInMethod.PASSWORD)
    reason = f"{role.title()}s cannot manage accounts: ask an admin"
    with pytest.raises(NotAllowed, match=reason):
        add_account(db, actor, "mallory", PASSWORD, ADMIN)
    with pytest.raises(NotAllowed, match=reason):
        reset_password(db, actor, "ana", "mallory's own password")
    with pytest.raises(NotAllowed, match=reason):
        set_role(db, actor, "ana", ADMIN)
    with pytest.raises(NotAllowed, match=reason):
        remove_account(db, actor, "ana")
    assert [(account.name, account.role) for account in list_accounts(db)] == [("ana", OPERATOR)]
    assert authenticate(db, "ana", PASSWORD) is not None
    # Each refusal is audited, with the reason.
    audited = [(row["action"], row["outcome"], row["detail"]) for row in db.query("select * from audit")]
    assert audited[1:] == [("manage_accounts", "refused", reason)] * 4
    assert audited[0][:2] == ("account_add", "ok")


def test_each_change_is_audited_with_who_did_it_and_in_which_role(db) -> None:
    add_account(db, BOSS, "ana", PASSWORD, VIEWER)
    set_role(db, BOSS, "ana", OPERATOR)
    reset_password(db, BOSS, "ana", "a brand new password")
    remove_account(db, BOSS, "ana")
    rows = [(row["operator"], row["role"], row["action"], row["detail"]) for row in db.query("select * from audit")]
    assert rows == [
        ("boss@example.com", ADMIN, "account_add", "ana as viewer"),
        ("boss@example.com", ADMIN, "account_role", "ana from viewer to operator"),
        ("boss@example.com", ADMIN, "account_reset", "ana; 0 session(s) ended"),
        ("boss@example.com", ADMIN, "account_remove", "ana; 0 session(s) ended"),
    ]
