"""A token in CONSOLE_MESSAGING_WEBHOOK_URL (in its query, or as credentials) goes to 360dialog and nowhere else:
not into key steps, the audit log, an alert, a log line, the settings' printed form or the page. Real HTTP: the
sandbox hub plays 360dialog, alerts go to a JSON sink and an SMTP server on loopback."""

from __future__ import annotations

import json
import logging
import re
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import responses
from cryptography.fernet import Fernet

from services.alerts.destinations import destinations
from services.alerts.rounds import alert_round
from services.channels.projection import upsert_channel
from services.keys.generation import generate_key
from services.keys.readiness import ReadinessConfig, key_readiness, prepare_key, webhook_url_for
from services.keys.vault import KeyVault
from tests.support.alert_conditions import alert_settings
from tests.support.alert_sinks import json_sink, smtp_sink
from tests.support.console import console_db
from tests.support.mocked_hub import BASE
from tests.support.pages import close_session_db, page_app
from tests.support.people import person
from tests.support.sandbox_hub import start_hub
from tests.support.servers import wait_for

TOKEN = "qTokenInTheWebhookUrl7731xyz"
PASSWORD = "pwInTheWebhookUrl9046abc"
ROTATED = "rotatedTokenInTheUrl5518klm"
TEMPLATE = f"https://hookuser:{PASSWORD}@hooks.example.org/wa/{{channel_id}}?token={TOKEN}"
SHOWN = "https://[credentials hidden]@hooks.example.org/wa/{channel_id}?[query hidden]"
SECRETS = (TOKEN, PASSWORD, ROTATED)


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def _database_bytes(data_dir: Path) -> str:
    """Every file of the console database (the write-ahead log included), as raw bytes."""
    return "".join(path.read_bytes().decode("latin-1") for path in sorted(data_dir.glob("console.db*")))


@pytest.mark.processes
@pytest.mark.timeout(180)
def test_a_token_in_the_webhook_url_reaches_360dialog_only(tmp_path, data_dir, db_path, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    # Another test may already have quieted the connection pool (alerts do, in the product): hear it here.
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    vault = KeyVault(Fernet.generate_key().decode())
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub", CONSOLE_MESSAGING_WEBHOOK_URL=TEMPLATE)
        sink, sink_url = stack.enter_context(json_sink())
        mail, mail_url = stack.enter_context(smtp_sink())
        channel_id = hub.sandbox.onboard("Token Cafe", ["+49 151 7650001"])["channel_ids"][0]
        api = hub.api()
        stack.callback(api.close)
        wait_for(lambda: api.list_channels(filters={"id": channel_id})["partner_channels"][0]["status"] == "running")
        config = ReadinessConfig.from_settings(hub.settings)
        assert config.webhook_template == TEMPLATE
        with console_db(db_path) as db:
            with db.atomic():
                upsert_channel(db, channel_id, {"status": "running"}, source="test")
            key = generate_key(db, api, vault, channel_id, actor=person("ana"))

            states = prepare_key(db, vault, channel_id, config, actor=person("ana"))
            assert [state.status for state in states] == ["ok", "ok", "ok"]
            assert states[1].detail == "messages go to " + SHOWN.format(channel_id=channel_id)
            assert states[2].detail == "360dialog confirms messages go to " + SHOWN.format(channel_id=channel_id)

            # The token is rotated in the settings but not yet at 360dialog: the read-back fails, and says so
            # without either token.
            rotated = replace(config, webhook_template=TEMPLATE.replace(TOKEN, ROTATED))
            states = prepare_key(db, vault, channel_id, rotated, actor=person("bo"), start_at="read_back")
            assert states[2].status == "failed"
            assert "another token or other credentials on the same address" in states[2].detail

            # The failed step becomes an alert, by JSON and by e-mail.
            settings = alert_settings([sink_url, mail_url], "key_chain")
            report = alert_round(db, settings, destinations(settings.urls), "http://console.test:8501")
            assert report.sent == 2
            texts = [json.dumps(message) for message in sink.wait_for_count(1)]
            wait_for(lambda: mail.subjects(), timeout=30)
            texts += [mail.subjects()[0], mail.text(0)]
            assert "hooks.example.org" in texts[0]
            rows = [dict(row) for table in ("key_steps", "audit", "alerts") for row in db[table].rows]

        # 360dialog (the hub) holds the whole URL: it was sent there, and only there.
        held = requests.get(f"{key.address}/v1/configs/webhook", headers={"D360-API-KEY": key.api_key}, timeout=5)
        assert held.json()["url"] == webhook_url_for(TEMPLATE, {"id": channel_id})

    assert not _leaks(json.dumps(rows)), "a key step, audit row or alert holds the token"
    assert not _leaks(_database_bytes(data_dir)), "the console database file holds the token"
    assert not _leaks("\n".join(texts)), "an alert holds the token"
    captured = capsys.readouterr()
    assert not _leaks(caplog.text + captured.out + captured.err), "a log line holds the token"
    assert not _leaks(repr(hub.settings) + repr(config)), "a settings object prints the token"
    assert "Starting new HTTP connection" in caplog.text  # the logs were really captured at DEBUG


MESSAGING = "https://waba-v2.360dialog.io"
KEY_URL = re.compile(rf"{BASE}/partners/demoPA/channels/(\w+)/api_keys")


def test_the_channel_view_shows_the_webhook_url_without_its_token(demo, db_path, monkeypatch) -> None:
    monkeypatch.setenv("D360_API_BASE_URL", BASE)
    monkeypatch.setenv("CONSOLE_MESSAGING_WEBHOOK_URL", TEMPLATE)
    with console_db(db_path) as db, db.atomic():
        upsert_channel(db, "tokCH", {"status": "running", "phone_number": "+49 151 2"}, source="test")
    held: dict[str, str] = {}

    def set_webhook(request):
        held["url"] = json.loads(request.body)["url"]
        return 200, {}, json.dumps({"url": held["url"]})

    app = page_app("channels.py")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        answer = {"api_key": "secret-tokCH-0123456789abcdef", "address": MESSAGING}
        mocked.add(responses.POST, KEY_URL, json=answer, status=201)
        mocked.get(f"{MESSAGING}/health_status", json={"health_status": {"can_send_message": "AVAILABLE"}})
        mocked.add_callback(responses.POST, f"{MESSAGING}/v1/configs/webhook", callback=set_webhook)
        mocked.add_callback(
            responses.GET, f"{MESSAGING}/v1/configs/webhook", callback=lambda _: (200, {}, json.dumps(held))
        )
        app.query_params["open"] = "tokCH"
        app.run()
        app.button(key="generate-tokCH").click().run()
    close_session_db(app)

    assert not app.exception
    assert held["url"] == webhook_url_for(TEMPLATE, {"id": "tokCH"})  # the whole URL went to 360dialog
    shown = "\n".join(
        str(element.value) for kind in ("text", "markdown", "success", "code") for element in getattr(app, kind)
    )
    assert "✅ messaging webhook set: ok — messages go to " + SHOWN.format(channel_id="tokCH") in shown
    assert not _leaks(shown)
    with console_db(db_path) as db:
        assert [state.status for state in key_readiness(db, "tokCH")] == ["ok", "ok", "ok"]
