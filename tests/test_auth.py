"""The login gate: live mode asks for a password before any page runs; demo mode has no gate."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import responses

from dashboard.auth import MAX_FAILURES
from services import password_hash
from services.password_hash import InvalidPasswordHash, hash_password, verify_password
from services.settings import SettingsError, load_settings
from services.store import open_console_db
from tests.console_env import ROOT, close_session_db, console_app, live_env, use_demo, use_live

PASSWORD = "correct horse battery staple"


def audit_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data_dir / "console.db") as db:
        return db.execute("select operator, action, outcome from audit order by id").fetchall()


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
    assert [error.value for error in at.error] == ["Wrong password."]
    assert [title.value for title in at.title] == ["Sign in"]
    assert "operator" not in at.session_state
    close_session_db(at)
    assert audit_rows(tmp_path) == [("(not signed in)", "login", "refused")]


def test_missing_name_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    sign_in(at, "  ", PASSWORD)
    assert "Enter your name" in at.error[0].value
    assert "operator" not in at.session_state


def test_repeated_failures_lock_sign_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    at = console_app().run()
    for _ in range(MAX_FAILURES):
        sign_in(at, "mallory", "guess")
    sign_in(at, "alice", PASSWORD)
    assert "Too many failed sign-ins" in at.error[0].value
    assert "operator" not in at.session_state
    close_session_db(at)


def test_right_password_opens_the_console_and_the_operator_is_audited(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = use_live(monkeypatch, tmp_path, PASSWORD)
    # A running channel, so that the Channels page offers a key.
    db = open_console_db(tmp_path / "console.db")
    with db.atomic():
        db["channels"].insert({"id": "chanCH", "client_id": "cliCL", "status": "running", "revoked": 0})
    db.close()

    at = console_app().run()
    sign_in(at, "alice", PASSWORD)
    assert not at.exception
    assert at.session_state["operator"] == "alice"
    assert "Connect a WhatsApp number" in [title.value for title in at.title]

    at.switch_page("../pages/channels.py").run()
    api_keys_url = f"{env['D360_API_BASE_URL']}/partners/livePA/channels/chanCH/api_keys"
    with responses.RequestsMock() as mock:
        mock.post(
            api_keys_url,
            json={"id": "k1", "address": "https://waba.test", "api_key": "K" * 40, "app_id": "app1"},
            status=201,
        )
        next(button for button in at.button if button.label == "Generate API key").click().run()
    assert not at.exception
    close_session_db(at)
    rows = audit_rows(tmp_path)
    assert ("alice", "login", "ok") in rows
    assert ("alice", "generate_key", "ok") in rows
    with sqlite3.connect(tmp_path / "console.db") as conn:
        assert conn.execute("select operator from api_keys").fetchall() == [("alice",)]
        # The Connect page recorded its link under the operator too.
        assert {row[0] for row in conn.execute("select operator from io_links")} == {"alice"}


def test_demo_mode_has_no_gate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_demo(monkeypatch, tmp_path)
    monkeypatch.setenv("CONSOLE_OPERATOR", "demo-ops")
    at = console_app().run()
    assert not at.exception
    assert "Sign in" not in [title.value for title in at.title]
    assert "Connect a WhatsApp number" in [title.value for title in at.title]
    close_session_db(at)
    with sqlite3.connect(tmp_path / "console.db") as conn:
        assert conn.execute("select operator from io_links").fetchall() == [("demo-ops",)]


OIDC_SECRETS = (
    "[auth]\n"
    'redirect_uri = "http://localhost:8501/oauth2callback"\n'
    'cookie_secret = "3vQm9x0Pk2LwZr7TfYc8HbNd"\n'
    "[auth.corp]\n"
    'client_id = "console"\n'
    'client_secret = "s3cr3t-from-the-idp"\n'
    'server_metadata_url = "https://idp.test/.well-known/openid-configuration"\n'
)


def use_oidc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(OIDC_SECRETS)
    monkeypatch.setenv("CONSOLE_SECRETS_FILE", str(secrets_file))
    monkeypatch.delenv("CONSOLE_PASSWORD_HASH")


def test_oidc_signed_in_user_is_the_operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_oidc(monkeypatch, tmp_path)
    at = console_app()
    at.user = {"is_logged_in": True, "email": "carol@example.com", "name": "Carol"}
    at.run()
    assert not at.exception
    assert "Connect a WhatsApp number" in [title.value for title in at.title]
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
    # Without Authlib (not installed here), or without [auth] in Streamlit's own secrets, st.login refuses;
    # the page says so instead of failing.
    assert not at.exception
    assert "Single sign-on is configured but cannot start" in at.error[0].value
    assert [title.value for title in at.title] == ["Sign in"]
    assert "operator" not in at.session_state


# -- settings: live mode refuses to start without a login or with weak secrets ---------------------


def test_live_mode_needs_a_password_hash(tmp_path: Path) -> None:
    env = live_env(tmp_path, PASSWORD)
    del env["CONSOLE_PASSWORD_HASH"]
    with pytest.raises(SettingsError, match="CONSOLE_PASSWORD_HASH is required"):
        load_settings(env)


def test_live_mode_refuses_a_malformed_password_hash(tmp_path: Path) -> None:
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_PASSWORD_HASH": "plain-text-password"}
    with pytest.raises(SettingsError, match="CONSOLE_PASSWORD_HASH") as caught:
        load_settings(env)
    assert "plain-text-password" not in str(caught.value)


def test_oidc_in_secrets_replaces_the_password(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(OIDC_SECRETS)
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_SECRETS_FILE": str(secrets_file)}
    del env["CONSOLE_PASSWORD_HASH"]
    settings = load_settings(env)
    assert settings.oidc_configured
    assert settings.oidc_provider == "corp"
    assert settings.password_hash is None


def test_an_incomplete_auth_table_does_not_count_as_login(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_SECRETS_FILE": str(secrets_file)}
    del env["CONSOLE_PASSWORD_HASH"]
    with pytest.raises(SettingsError, match="CONSOLE_PASSWORD_HASH"):
        load_settings(env)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("D360_PLATFORM_SECRET", "", "D360_PLATFORM_SECRET is required"),
        ("D360_PLATFORM_SECRET", "xq7Zp", "D360_PLATFORM_SECRET is too short"),
        ("D360_PLATFORM_SECRET", "a" * 40, "D360_PLATFORM_SECRET is too weak"),
        ("D360_PARTNER_API_KEY", "abcabcabcabcabcabc", "D360_PARTNER_API_KEY is too weak"),
        ("CONSOLE_ENCRYPTION_KEY", "", "CONSOLE_ENCRYPTION_KEY is required"),
        ("CONSOLE_ENCRYPTION_KEY", "not-a-fernet-key", "CONSOLE_ENCRYPTION_KEY must be a Fernet key"),
        ("CONSOLE_ENCRYPTION_KEY", "A" * 43 + "=", "CONSOLE_ENCRYPTION_KEY is too weak"),
        ("CONSOLE_LOG_LEVEL", "LOUD", "CONSOLE_LOG_LEVEL must be one of"),
        ("CONSOLE_BIND_ADDRESS", "local host!", "CONSOLE_BIND_ADDRESS"),
    ],
)
def test_live_mode_names_the_wrong_setting_and_not_its_value(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    env = {**live_env(tmp_path, PASSWORD), key: value}
    if value == "":
        del env[key]
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(env)
    if value:
        assert value not in str(caught.value)


def test_weak_receiver_auth_header_is_refused_in_live_mode(tmp_path: Path) -> None:
    env = {
        **live_env(tmp_path, PASSWORD),
        "RECEIVER_AUTH_HEADER_NAME": "x-partner-token",
        "RECEIVER_AUTH_HEADER_VALUE": "token",
    }
    with pytest.raises(SettingsError, match="RECEIVER_AUTH_HEADER_VALUE is too short"):
        load_settings(env)


def test_demo_mode_binds_to_localhost_unless_told(tmp_path: Path) -> None:
    env = {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml")}
    assert load_settings(env).bind_address == "127.0.0.1"
    assert load_settings({**env, "CONSOLE_BIND_ADDRESS": "0.0.0.0"}).bind_address == "0.0.0.0"
    assert load_settings(live_env(tmp_path, PASSWORD)).bind_address == "0.0.0.0"


def test_the_stack_passes_bind_address_and_log_level(tmp_path: Path) -> None:
    from services.stack import services_for

    env = {
        "CONSOLE_DATA_DIR": str(tmp_path),
        "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"),
        "CONSOLE_LOG_LEVEL": "debug",
    }
    for service in services_for(load_settings(env)):
        command = service.command
        host_flag = "--server.address" if service.name == "dashboard" else "--host"
        level_flag = "--logger.level" if service.name == "dashboard" else "--log-level"
        assert command[command.index(host_flag) + 1] == "127.0.0.1", service.name
        assert command[command.index(level_flag) + 1] == "debug", service.name


def run_with_env(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python ARGUMENTS` from the project root with only `env` (and a PATH) set."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_receiver_refuses_to_start_with_a_weak_secret(tmp_path: Path) -> None:
    env = {**live_env(tmp_path, PASSWORD), "D360_PLATFORM_SECRET": "0101010101010101010101"}
    result = run_with_env(["-c", "import services.receiver.server as r; r.app"], env)
    assert result.returncode == 2
    assert "D360_PLATFORM_SECRET is too weak" in result.stderr
    assert "0101010101010101010101" not in result.stderr


# -- the password hash -------------------------------------------------------------------------------


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


def test_the_stack_refuses_to_start_naming_the_weak_setting(tmp_path: Path) -> None:
    env = {**live_env(tmp_path, PASSWORD), "CONSOLE_ENCRYPTION_KEY": "A" * 43 + "="}
    result = run_with_env(["-m", "services.stack"], env)
    assert result.returncode == 2
    assert "CONSOLE_ENCRYPTION_KEY is too weak" in result.stderr
    assert not (tmp_path / "console.db").exists()


def test_the_dashboard_names_the_missing_login_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    monkeypatch.delenv("CONSOLE_PASSWORD_HASH")
    at = console_app().run()
    assert not at.exception
    assert "CONSOLE_PASSWORD_HASH is required" in at.error[0].value
    assert not at.text_input, "no sign-in form without a password to check it against"
