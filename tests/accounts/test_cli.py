"""`python -m services.accounts` as a real process on a real database file: add, list, reset, remove, role."""

from __future__ import annotations

import getpass
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from services.accounts import authenticate
from tests.support import ROOT
from tests.support.console import LIVE_ENV_KEYS, console_db

pytestmark = pytest.mark.processes

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a second long password"


def cli_env(data_dir: Path) -> dict[str, str]:
    # Live mode with nothing else set: managing accounts must work before the console can start.
    env = {key: value for key, value in os.environ.items() if key not in LIVE_ENV_KEYS}
    return {
        **env,
        "CONSOLE_MODE": "live",
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
    }


def accounts(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.accounts", *args],
        cwd=ROOT,
        env=cli_env(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stored_bytes(data_dir: Path) -> bytes:
    with sqlite3.connect(data_dir / "console.db") as conn:
        conn.execute("pragma wal_checkpoint(truncate)")
    return b"".join(path.read_bytes() for path in data_dir.iterdir() if path.name.startswith("console.db"))


def test_the_accounts_life_through_the_command_line(data_dir: Path) -> None:
    empty = accounts(data_dir, "list")
    assert empty.returncode == 0, empty.stderr
    assert "No account yet" in empty.stdout

    added = accounts(data_dir, "add", "Ana", "--role", "operator", "--display-name", "Ana Lopez", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "Added ana (operator)."
    assert accounts(data_dir, "add", "bob", "--role", "viewer", stdin=PASSWORD + "\n").returncode == 0

    listed = accounts(data_dir, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["name", "role", "created", "(UTC)", "last", "sign-in", "(UTC)"]
    assert [line.split()[:2] for line in lines[1:]] == [["ana", "operator"], ["bob", "viewer"]]
    assert all(line.endswith("never") for line in lines[1:])
    assert "scrypt" not in listed.stdout

    role = accounts(data_dir, "role", "ana", "admin")
    assert (role.returncode, role.stdout.strip()) == (0, "ana is now admin.")
    reset = accounts(data_dir, "reset", "ana", stdin=NEW_PASSWORD + "\n")
    assert reset.returncode == 0, reset.stderr
    with console_db(data_dir / "console.db") as db:
        assert authenticate(db, "ana", PASSWORD) is None
        assert authenticate(db, "ana", NEW_PASSWORD).role == "admin"  # type: ignore[union-attr]
    assert "never" not in accounts(data_dir, "list").stdout.splitlines()[1]

    removed = accounts(data_dir, "remove", "bob")
    assert removed.returncode == 0, removed.stderr
    assert [line.split()[0] for line in accounts(data_dir, "list").stdout.splitlines()[1:]] == ["ana"]

    stored = stored_bytes(data_dir)
    assert PASSWORD.encode() not in stored
    assert NEW_PASSWORD.encode() not in stored
    with console_db(data_dir / "console.db") as db:
        audited = [(row["action"], row["detail"]) for row in db.query("select * from audit order by id")]
        who = {(row["operator"], row["role"]) for row in db.query("select * from audit")}
    assert audited == [
        ("account_add", "ana as operator"),
        ("account_add", "bob as viewer"),
        ("account_role", "ana from operator to admin"),
        ("account_reset", "ana; 0 session(s) ended"),
        ("account_remove", "bob; 0 session(s) ended"),
    ]
    assert who == {(f"command line ({getpass.getuser()})", "admin")}


def test_a_wrong_request_is_said_plainly_and_changes_nothing(data_dir: Path) -> None:
    short = accounts(data_dir, "add", "ana", "--role", "admin", stdin="short\n")
    assert short.returncode == 1
    assert short.stderr.strip() == "accounts: a password has at least 12 characters"
    assert "Traceback" not in short.stderr
    assert accounts(data_dir, "add", "ana", "--role", "admin", stdin=PASSWORD + "\n").returncode == 0
    twice = accounts(data_dir, "add", "ANA", "--role", "viewer", stdin=PASSWORD + "\n")
    assert (twice.returncode, twice.stderr.strip()) == (1, "accounts: an account named ana exists already")
    missing = accounts(data_dir, "remove", "zoe")
    assert (missing.returncode, missing.stderr.strip()) == (1, "accounts: there is no account named zoe")
    bad_role = accounts(data_dir, "role", "ana", "owner")
    assert bad_role.returncode == 2
    assert "invalid choice" in bad_role.stderr
    assert [line.split()[:2] for line in accounts(data_dir, "list").stdout.splitlines()[1:]] == [["ana", "admin"]]
    assert PASSWORD not in short.stdout + short.stderr + twice.stdout + twice.stderr
