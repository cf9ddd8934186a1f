"""The sign-in gate: live mode asks for a password account (or single sign-on) before any page runs; demo mode
has no gate. The settings a live console refuses to start without are in tests/test_settings.py."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import responses

from dashboard.context import SESSION_TOKEN_KEY
from services.accounts import command_line_person, remove_account
from services.password_hash import hash_password
from services.sign_in import FREE_FAILURES
from tests.support.console import OIDC_SECRETS, TEAM, console_db, use_demo, use_live
from tests.support.pages import close_session_db, console_app, new_link

PASSWORD = "correct horse battery staple"


def audit_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data_dir / "console.db") as db:
        # The accounts the test made come first; what the sign-in audits follows.
        sql = "select operator, action, outcome from audit where action not like 'account_%' order by id"
        return db.execute(sql).fetchall()


def signed_in_as(at) -> str | None:
    """The sidebar's line naming who is signed in, and in which role."""
    return next((text.value for text in at.sidebar.text if " as " in text.value), None)


def sign_in(at, name: str, password: str) -> None:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click().run()


def test_live_mode_shows_the_gate_and_no_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    assert not at.exception
    assert [title.value for title in at.title] == ["Sign in"]
    assert at.text_input[1].proto.type == at.text_input[1].proto.PASSWORD
    assert "Connect a WhatsApp number" not in [t.value for t in at.title]


def test_wrong_password_is_refused_and_audited_without_the_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    sign_in(at, "alice", "not the password")
    assert [error.value for error in at.error] == ["Wrong account name or password."]
    assert [title.value for title in at.title] == ["Sign in"]
    assert SESSION_TOKEN_KEY not in at.session_state
    close_session_db(at)
    assert audit_rows(tmp_path) == [("(not signed in)", "login", "refused")]


def test_missing_name_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    sign_in(at, "  ", PASSWORD)
    assert "Enter your account name" in at.error[0].value
    assert SESSION_TOKEN_KEY not in at.session_state


def test_repeated_failures_block_that_name_from_that_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    for _ in range(FREE_FAILURES + 2):
        sign_in(at, "mallory", "guess")
    assert "Too many failed sign-ins for this account from here" in at.error[0].value
    assert SESSION_TOKEN_KEY not in at.session_state
    close_session_db(at)


def test_a_wrong_password_flood_from_one_source_does_not_stop_a_right_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Every browser here shares one source (this machine), as every operator behind an untrusted proxy does.
    # The old behaviour: twelve wrong passwords from anyone there refused the colleague who knew the password.
    use_live(monkeypatch, tmp_path, PASSWORD)
    attacker = console_app().run()
    for attempt in range(12):
        sign_in(attacker, f"mallory{attempt}", "guess")
    close_session_db(attacker)
    colleague = console_app().run()
    sign_in(colleague, "alice", PASSWORD)
    assert not colleague.error
    assert signed_in_as(colleague) == "Signed in as alice · admin"
    close_session_db(colleague)


def test_right_password_opens_the_console_and_the_operator_is_audited(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = use_live(monkeypatch, tmp_path, PASSWORD)
    # A running channel, so that the Channels page offers a key.
    with console_db(tmp_path / "console.db") as db, db.atomic():
        db["channels"].insert({"id": "chanCH", "client_id": "cliCL", "status": "running", "revoked": 0})

    at = console_app().run()
    sign_in(at, "alice", PASSWORD)
    assert not at.exception
    assert signed_in_as(at) == "Signed in as alice · admin"
    assert "Today" in [title.value for title in at.title]
    new_link(at.switch_page("../pages/connect.py").run())

    at.query_params["open"] = "chanCH"  # the channel's own view, as its link opens it
    at.switch_page("../pages/channels.py").run()
    api_keys_url = f"{env['D360_API_BASE_URL']}/partners/livePA/channels/chanCH/api_keys"
    with responses.RequestsMock() as mock:
        mock.post(
            api_keys_url,
            json={"id": "k1", "address": "https://waba.test", "api_key": "K" * 40, "app_id": "app1"},
            status=201,
        )
        next(button for button in at.button if button.label.startswith("Generate key for")).click().run()
    assert not at.exception
    close_session_db(at)
    rows = audit_rows(tmp_path)
    assert ("alice", "login", "ok") in rows
    assert ("alice", "generate_key", "ok") in rows
    with sqlite3.connect(tmp_path / "console.db") as conn:
        assert conn.execute("select operator from api_keys").fetchall() == [("alice",)]
        # The link made on the Connect page is recorded under the operator too.
        assert {row[0] for row in conn.execute("select operator from io_links")} == {"alice"}


def test_demo_mode_has_no_gate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_demo(monkeypatch, tmp_path)
    at = console_app().run()
    assert not at.exception
    assert "Sign in" not in [title.value for title in at.title]
    assert "Today" in [title.value for title in at.title]
    new_link(at.switch_page("../pages/connect.py").run())
    close_session_db(at)
    with sqlite3.connect(tmp_path / "console.db") as conn:
        # Demo mode acts as the demo admin.
        assert conn.execute("select operator from io_links").fetchall() == [("demo",)]
    assert signed_in_as(at) == "Acting as demo · admin"


def use_oidc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(OIDC_SECRETS)
    monkeypatch.setenv("CONSOLE_SECRETS_FILE", str(secrets_file))


def claims(email: str = "carol@example.com", **changes: object) -> dict[str, object]:
    """What st.user holds after Streamlit's OIDC callback: the identity token's claims."""
    now = time.time()
    token = {"is_logged_in": True, "email": email, "email_verified": True, "name": "Carol", "iat": now - 60}
    return {**token, "exp": now + 3600, **changes}


def test_oidc_signed_in_user_is_the_operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_oidc(monkeypatch, tmp_path)
    monkeypatch.setenv("CONSOLE_ROLES", "operator=carol@example.com")
    at = console_app()
    at.user = claims()
    at.run()
    assert not at.exception
    assert signed_in_as(at) == "Signed in as Carol · operator"
    assert "Today" in [title.value for title in at.title]
    new_link(at.switch_page("../pages/connect.py").run())
    close_session_db(at)
    with sqlite3.connect(tmp_path / "console.db") as conn:
        assert conn.execute("select operator from io_links").fetchall() == [("carol@example.com",)]


def test_oidc_without_a_signed_in_user_shows_only_the_sign_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_oidc(monkeypatch, tmp_path)
    at = console_app()
    at.user = {"is_logged_in": False}
    at.run()
    assert [title.value for title in at.title] == ["Sign in"]
    assert [button.label for button in at.button] == ["Sign in with single sign-on"]
    at.button[0].click().run()
    # Without [auth] in Streamlit's own secrets (AppTest does not read the console's file), st.login refuses;
    # the page says so instead of failing.
    assert not at.exception
    assert "Single sign-on is configured but cannot start" in at.error[0].value
    assert [title.value for title in at.title] == ["Sign in"]
    assert not signed_in_as(at)


def audit_roles(data_dir: Path) -> list[tuple[str, str | None, str, str, str]]:
    with sqlite3.connect(data_dir / "console.db") as db:
        sql = "select operator, role, action, outcome, detail from audit where action not like 'account_%' order by id"
        return db.execute(sql).fetchall()


def test_a_sign_in_and_a_sign_out_are_audited_with_the_role(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    sign_in(at, "Dora", PASSWORD)
    assert signed_in_as(at) == "Signed in as dora · admin"
    next(button for button in at.sidebar.button if button.label == "Sign out").click().run()
    assert [title.value for title in at.title] == ["Sign in"]
    close_session_db(at)
    assert [row[:4] for row in audit_roles(tmp_path)] == [
        ("dora", "admin", "login", "ok"),
        ("dora", "admin", "sign_out", "ok"),
    ]


def test_a_session_ends_when_its_account_is_removed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    sign_in(at, "ana", PASSWORD)
    assert signed_in_as(at) == "Signed in as ana · admin"
    with console_db(tmp_path / "console.db") as db:
        remove_account(db, command_line_person("tests"), "ana")
    at.run()
    assert [title.value for title in at.title] == ["Sign in"]
    assert not signed_in_as(at)
    close_session_db(at)


def test_without_any_account_the_sign_in_says_how_to_make_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    with console_db(tmp_path / "console.db") as db:
        for name in TEAM:
            remove_account(db, command_line_person("tests"), name)
    # A console upgraded from the shared password: the old setting is named as no longer used.
    monkeypatch.setenv("CONSOLE_PASSWORD_HASH", hash_password("the old shared one"))
    at = console_app().run()
    assert not at.exception
    assert "python -m services.accounts add NAME --role admin" in at.warning[0].value
    assert "CONSOLE_PASSWORD_HASH is no longer used" in at.info[0].value
    assert not at.text_input, "no sign-in form without an account to check it against"
    close_session_db(at)


def test_oidc_lets_in_no_one_outside_the_team_and_audits_the_refusal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_oidc(monkeypatch, tmp_path)
    at = console_app()
    at.user = claims("mallory@gmail.com")
    at.run()
    assert not at.exception
    assert [title.value for title in at.title] == ["Sign in"]
    assert at.error[0].value == "You cannot use this console."
    assert "mallory@gmail.com is not on this console's list" in at.text[0].value
    assert [button.label for button in at.button] == ["Sign out / use another account"]
    assert not signed_in_as(at)
    at.run()  # a rerun does not audit it twice
    close_session_db(at)
    assert [row[:4] for row in audit_roles(tmp_path)] == [("mallory@gmail.com", None, "login", "refused")]


@pytest.mark.parametrize(
    "token",
    [
        {"email_verified": False},
        {"exp": time.time() - 5},
        {"iat": time.time() - 13 * 3600},
    ],
    ids=["unverified e-mail", "expired token", "older than the session hours"],
)
def test_oidc_refuses_an_unverified_or_expired_sign_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, token: dict[str, object]
) -> None:
    use_oidc(monkeypatch, tmp_path)
    at = console_app()
    at.user = claims(**token)
    at.run()
    assert not at.exception
    assert [title.value for title in at.title] == ["Sign in"]
    assert not signed_in_as(at)
    shown = [message.value for message in [*at.text, *at.warning]]
    assert len(shown) == 1
    assert "sign in again" in shown[0] or "not a verified address" in shown[0]
    close_session_db(at)
