"""`python -m services.accounts`: add, list, reset, remove and change the role of password accounts.

Passwords are asked twice without echo on a terminal, or read from standard input (first line) otherwise, so
that scripts and tests can drive it; they never appear in arguments, output or logs.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import TextIO

from sqlite_utils import Database

from services.accounts.password_accounts import (
    AccountError,
    add_account,
    list_accounts,
    remove_account,
    reset_password,
    set_role,
)
from services.accounts.roles import NotAllowed, Person, command_line_person
from services.settings import load_settings
from services.settings_rules import ACCESS_ROLES, SettingsError
from services.store import open_console_db
from services.times import utc_text

PROGRAM = "python -m services.accounts"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROGRAM, description="Password accounts of the console.")
    commands = top.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add an account (asks for its password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ACCESS_ROLES)
    add.add_argument("--display-name", help="the name shown in the sidebar (default: the account name)")
    commands.add_parser("list", help="list the accounts: name, role, created, last sign-in")
    reset = commands.add_parser("reset", help="set a new password (asks for it); ends the account's sessions")
    reset.add_argument("name")
    remove = commands.add_parser("remove", help="remove an account; ends its sessions")
    remove.add_argument("name")
    role = commands.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ACCESS_ROLES)
    return top


def read_password(stdin: TextIO) -> str:
    """Twice without echo on a terminal; otherwise the first line of standard input."""
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise AccountError("the two entries differ")
    return password


def _when(moment: str | None) -> str:
    return utc_text(moment, missing="never")


def _list(db: Database, out: TextIO) -> None:
    accounts = list_accounts(db)
    if not accounts:
        print(f"No account yet: add one with `{PROGRAM} add NAME --role admin`.", file=out)
        return
    print(f"{'name':<24} {'role':<9} {'created (UTC)':<20} last sign-in (UTC)", file=out)
    for account in accounts:
        print(
            f"{account.name:<24} {account.role:<9} {_when(account.created_at):<20} {_when(account.last_sign_in_at)}",
            file=out,
        )


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No login name in the environment and no password-database entry (some containers).
        return "unknown user"


def run(db: Database, actor: Person, args: argparse.Namespace, stdin: TextIO, out: TextIO) -> None:
    name = args.name.strip().lower() if hasattr(args, "name") else ""
    if args.command == "list":
        _list(db, out)
    elif args.command == "add":
        account = add_account(db, actor, args.name, read_password(stdin), args.role, args.display_name)
        print(f"Added {account.name} ({account.role}).", file=out)
    elif args.command == "reset":
        ended = reset_password(db, actor, args.name, read_password(stdin))
        print(f"New password set for {name}; {ended} session(s) ended.", file=out)
    elif args.command == "remove":
        ended = remove_account(db, actor, args.name)
        print(f"Removed {name}; {ended} session(s) ended.", file=out)
    else:
        account = set_role(db, actor, args.name, args.role)
        print(f"{account.name} is now {account.role}.", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings(role="accounts")
    except SettingsError as error:
        print(f"accounts: {error}", file=sys.stderr)
        return 2
    db = open_console_db(settings.console_db_path)
    try:
        run(db, command_line_person(_system_user()), args, sys.stdin, sys.stdout)
    except (AccountError, NotAllowed) as error:
        print(f"accounts: {error}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0
