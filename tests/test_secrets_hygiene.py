"""The whole demo flow at DEBUG logging, then a scan for secrets where none may be.

Secrets: the partner API key, the platform secret, the encryption key, a generated Messaging API key and
the operator's password. Scanned: the stack's log, every file in the data folder (the console and sandbox
databases included, raw), every database column but api_keys.key_encrypted, every page rendered with
AppTest, the in-process logs, and every error message the flow can produce.
"""

from __future__ import annotations

import html
import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import streamlit as st
from streamlit.testing.v1 import AppTest

from services.keys.generation import KeyNotAllowed, generate_key
from services.keys.vault import KeyVault, VaultError
from services.partner_api import PartnerApi, PartnerApiError
from services.settings import SettingsError, load_settings
from tests.support.console import add_team, console_db, live_env
from tests.support.pages import close_session_db, console_app, new_link
from tests.support.people import person
from tests.support.servers import wait_for
from tests.support.stack import RunningStack, start_stack

PASSWORD = "hygiene-" + secrets.token_urlsafe(16)
STACK_ENV_KEYS = (
    "CONSOLE_DATA_DIR",
    "CONSOLE_SECRETS_FILE",
    "CONSOLE_PUBLIC_URL",
    "CONSOLE_RECEIVER_URL",
    "SANDBOX_URL",
)


def needles(secret: str) -> list[str]:
    """The secret, and long pieces of it (a log that cuts or encodes a value still leaks its middle)."""
    core = secret.rstrip("=")
    return [secret, core[:16], core[-16:], core[len(core) // 2 - 8 : len(core) // 2 + 8]]


def find_leaks(text: str, secret_values: dict[str, str]) -> list[str]:
    return [name for name, value in secret_values.items() if any(piece in text for piece in needles(value))]


def all_rendered_text(at: AppTest) -> str:
    """What the page shows. Input widgets' values are left out: AppTest keeps what the test itself typed."""
    parts = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "error",
        "warning",
        "info",
        "success",
        "text",
        "code",
        "metric",
        "json",
        "exception",
    ):
        parts.extend(str(getattr(element, "value", "")) for element in getattr(at, kind))
    for kind in ("button", "link_button", "page_link", "metric", "text_input"):
        parts.extend(str(getattr(element, "label", "")) for element in getattr(at, kind))
    parts.extend(element.value.to_string() for element in [*at.dataframe, *at.table])
    parts.extend(element.proto.url for element in at.link_button)
    parts.extend(str(element.proto) for element in at.exception)
    return "\n".join(parts)


def database_leaks(path: Path, secret_values: dict[str, str]) -> list[str]:
    leaks = []
    db = sqlite3.connect(path)
    try:
        tables = [name for (name,) in db.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            cursor = db.execute(f'select * from "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if (table, column) == ("api_keys", "key_encrypted") or value is None:
                        continue
                    for name in find_leaks(str(value), secret_values):
                        leaks.append(f"{path.name}:{table}.{column} holds the {name}")
    finally:
        db.close()
    return leaks


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # Key health asks about each key every 3 s here, so its process checks the generated key during the flow.
    extra = {
        "CONSOLE_LOG_LEVEL": "DEBUG",
        "CONSOLE_KEY_HEALTH_MINUTES": "0.05",
        "CONSOLE_KEY_HEALTH_ROUND_SECONDS": "0.5",
    }
    running = start_stack(tmp_path_factory.mktemp("hygiene"), extra)
    yield running
    running.stop()


def use_stack_settings(monkeypatch: pytest.MonkeyPatch, stack: RunningStack) -> None:
    for key in ("D360_PARTNER_API_KEY", "D360_USERNAME", "D360_PASSWORD", "CONSOLE_PASSWORD_HASH"):
        monkeypatch.delenv(key, raising=False)
    for key in STACK_ENV_KEYS:
        monkeypatch.setenv(key, stack.env[key])
    monkeypatch.setenv("CONSOLE_LOG_LEVEL", "DEBUG")
    st.cache_resource.clear()


def render(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = console_app().run()
    if query:
        at.query_params.update(query)
    at.switch_page(f"../pages/{page}").run()
    close_session_db(at)
    return at


def onboard_through_the_sandbox(link: str) -> dict[str, str]:
    """What a client does on the IO pages, with requests: open the link, fill the form, follow the redirect."""
    with requests.Session() as browser:
        form_page = browser.get(link, timeout=10)
        assert form_page.status_code == 200, form_page.text[:300]
        query = html.unescape(re.search(r'name="query" value="([^"]*)"', form_page.text).group(1))
        # The form's own address: a console link redirects to the hub first.
        answer = browser.post(
            form_page.url.split("?", 1)[0],
            data={"query": query, "business_name": "Hygiene Bakery", "numbers": "+49 151 0000009", "grant": "yes"},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 303, answer.text[:300]
    landing = urlsplit(answer.headers["location"])
    return {key: values[0] for key, values in parse_qs(landing.query).items()}


def error_messages(stack: RunningStack, settings, channel_id: str, vault: KeyVault, db) -> list[str]:
    """Every way the flow can fail, as the operator or a log would see it."""
    messages = []
    wrong_api = PartnerApi(settings.api_base_url, settings.partner_id, api_key="wrong-" + "k" * 30, timeout=5)
    try:
        wrong_api.generate_api_key(channel_id)
    except PartnerApiError as error:
        messages.append(str(error))
    wrong_api.close()
    right_api = PartnerApi(settings.api_base_url, settings.partner_id, api_key=settings.partner_api_key, timeout=5)
    for channel in ("noSuchCH", channel_id + "x"):
        try:
            generate_key(db, right_api, vault, channel, actor=person("hygiene"))
        except (KeyNotAllowed, PartnerApiError) as error:
            messages.append(str(error))
        try:
            right_api.generate_api_key(channel)
        except PartnerApiError as error:
            messages.append(str(error))
    messages.append(repr(right_api))
    right_api.close()
    unreachable = PartnerApi(
        "http://127.0.0.1:9/api/v2", settings.partner_id, api_key=settings.partner_api_key, timeout=1
    )
    try:
        unreachable.generate_api_key(channel_id)
    except PartnerApiError as error:
        messages.append(str(error))
    unreachable.close()
    try:
        KeyVault(settings.encryption_key).open("not a token")
    except VaultError as error:
        messages.append(str(error))
    messages.extend([repr(settings), repr(vault)])
    for body, headers in [(b'{"event": "x"}', {}), (b"{", {"x-360dialog-signature": "0" * 64})]:
        messages.append(requests.post(settings.webhook_url, data=body, headers=headers, timeout=10).text)
    messages.append(
        requests.post(
            f"{settings.api_base_url}/partners/{settings.partner_id}/channels/{channel_id}/api_keys", timeout=10
        ).text
    )
    for weak in (
        {"D360_PLATFORM_SECRET": settings.platform_secret[:10]},
        {"CONSOLE_ENCRYPTION_KEY": "x" * 44},
        {"CONSOLE_PASSWORD_HASH": PASSWORD},
    ):
        env = {**live_env(stack.data_dir / "live-check", PASSWORD), **weak}
        try:
            load_settings(env)
        except SettingsError as error:
            messages.append(str(error))
    return messages


@pytest.mark.processes
@pytest.mark.timeout(600)
def test_no_secret_leaks_anywhere(
    stack: RunningStack,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    use_stack_settings(monkeypatch, stack)
    settings = load_settings()
    demo = json.loads((stack.data_dir / "demo-secrets.json").read_text())
    assert settings.partner_api_key == demo["partner_api_key"]
    rendered: list[str] = []

    # The Connect page hands out the IO link when asked; a client follows it through the sandbox.
    connect = console_app().run()
    new_link(connect.switch_page("../pages/connect.py").run())
    close_session_db(connect)
    rendered.append(all_rendered_text(connect))
    link = connect.code[0].value
    redirect = onboard_through_the_sandbox(link)
    landing = render("landing.py", redirect)
    rendered.append(all_rendered_text(landing))
    channel_id = redirect["channels"].strip("[]").split(",")[0]

    with console_db(settings.console_db_path) as db:
        wait_for(lambda: db["channels"].count_where("id = ? and status = 'running'", [channel_id]), timeout=60)
        vault = KeyVault(settings.encryption_key)
        api = PartnerApi(settings.api_base_url, settings.partner_id, api_key=settings.partner_api_key, timeout=10)
        result = generate_key(db, api, vault, channel_id, actor=person("hygiene"))
        api.close()
        assert (
            requests.get(
                f"{result.address}/multi_webhook", headers={"D360-API-KEY": result.api_key}, timeout=10
            ).status_code
            == 200
        )
        # The key-health process (holding the encryption key, logging at DEBUG) asked about the key.
        wait_for(
            lambda: db.execute(
                "select checked_at from key_health where channel_id = ? and checked_at is not null", [channel_id]
            ).fetchone(),
            timeout=60,
        )
        errors = error_messages(stack, settings, channel_id, vault, db)
    for page in ("connect.py", "events.py", "channels.py", "landing.py"):
        rendered.append(all_rendered_text(render(page)))

    # The operator's password, typed into the live-mode sign-in (right, then wrong), audited in the same DB.
    live = live_env(stack.data_dir, PASSWORD)
    for key, value in live.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CONSOLE_DATA_DIR", stack.env["CONSOLE_DATA_DIR"])
    add_team(Path(stack.env["CONSOLE_DATA_DIR"]), PASSWORD, ("hygiene-operator",))
    st.cache_resource.clear()
    for password in ("wrong-" + PASSWORD, PASSWORD):
        at = console_app().run()
        at.text_input[0].input("hygiene-operator")
        at.text_input[1].input(password)
        at.button[0].click().run()
        close_session_db(at)
        rendered.append(all_rendered_text(at))
    assert "Signed in as hygiene-operator · admin" in [text.value for text in at.sidebar.text]
    live_secrets = {
        "live partner API key": live["D360_PARTNER_API_KEY"],
        "live platform secret": live["D360_PLATFORM_SECRET"],
        "live encryption key": live["CONSOLE_ENCRYPTION_KEY"],
    }

    secret_values = {
        "partner API key": demo["partner_api_key"],
        "platform secret": demo["platform_secret"],
        "encryption key": demo["encryption_key"],
        "generated API key": result.api_key,
        "password": PASSWORD,
        **live_secrets,
    }
    stack.stop()  # flushes every process's log

    leaks: list[str] = []
    log_text = stack.log_path.read_text(errors="replace")
    # Debug-only lines of the sandbox's HTTP client and of Streamlit: the processes really logged at DEBUG.
    assert "Starting new HTTP connection" in log_text, "the sandbox did not log at DEBUG"
    assert "Runtime state:" in log_text, "the dashboard did not log at DEBUG"
    assert "key health round: 1 checked" in log_text, "the key-health process did not log its rounds"
    leaks += [f"the stack log holds the {name}" for name in find_leaks(log_text, secret_values)]
    for path in sorted(stack.data_dir.rglob("*")):
        if path.is_file() and path.name != "demo-secrets.json":
            content = path.read_bytes().decode("latin-1")
            leaks += [f"{path.name} holds the {name}" for name in find_leaks(content, secret_values)]
    for db_path in (stack.data_dir / "console.db", stack.data_dir / "sandbox.db"):
        leaks += database_leaks(db_path, secret_values)
    for text in rendered:
        leaks += [f"a rendered page shows the {name}" for name in find_leaks(text, secret_values)]
    for message in errors:
        leaks += [f"an error message holds the {name}: {message[:80]!r}" for name in find_leaks(message, secret_values)]
    captured = capsys.readouterr()
    leaks += [
        f"in-process logs hold the {name}"
        for name in find_leaks(caplog.text + captured.out + captured.err, secret_values)
    ]
    assert not leaks, "\n".join(sorted(set(leaks)))

    # The scan looked at real content: the key is in the database, encrypted, and recognisable by its end.
    with sqlite3.connect(stack.data_dir / "console.db") as conn:
        sealed, last4 = conn.execute("select key_encrypted, key_last4 from api_keys where outcome = 'ok'").fetchone()
    conn.close()
    assert vault.open(sealed) == result.api_key
    assert result.api_key.endswith(last4)
    assert len(errors) >= 10


def test_legacy_partner_password_stays_out_of_logs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    """D360_USERNAME/D360_PASSWORD (POST /token) cannot run in demo mode; checked against a mocked API."""
    import responses

    caplog.set_level(logging.DEBUG)
    password = "legacy-" + secrets.token_urlsafe(20)
    base = "https://partner-api.test/api/v2"
    messages = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{base}/token", json={"meta": {"developer_message": "bad credentials"}}, status=401)
        api = PartnerApi(base, "livePA", username="ops@example.com", password=password, timeout=1)
        messages.append(repr(api))
        try:
            api.list_channels()
        except PartnerApiError as error:
            messages.append(str(error))
        mock.replace(responses.POST, f"{base}/token", json={"access_token": "tok-" + "t" * 30})
        mock.get(f"{base}/partners/livePA/channels", status=500)
        try:
            api.list_channels()
        except PartnerApiError as error:
            messages.append(str(error))
        api.close()
    assert len(messages) == 3
    leaks = find_leaks("\n".join([*messages, caplog.text]), {"password": password})
    assert not leaks
