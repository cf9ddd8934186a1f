"""Key health against the sandbox hub on real HTTP: a key generated through the console works; once a second key
is generated for the channel outside the console (as a client does in its own hub, which "will revoke all
existing keys"), the hub answers 401 to the console's key, and the next round finds it stopped, alerts once, and
a new key from the console clears it. Then the same in the key-health process itself, started as the stack does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest

from services.alerts.ledger import record_scans
from services.alerts.rules import scan_rules
from services.channels.projection import upsert_channel
from services.keys.generation import generate_key
from services.keys.health.checks import HealthConfig, run_round
from services.keys.health.reading import channel_key_health
from services.keys.health.status import process_status
from services.keys.vault import KeyVault
from services.read_models.channel_timeline import channel_timeline
from services.read_models.work_queue import key_stopped
from services.settings import AlertSettings
from services.store import open_console_db
from tests.support import ROOT
from tests.support.console import LIVE_ENV_KEYS
from tests.support.people import person
from tests.support.sandbox_hub import Hub, start_hub
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes  # the sandbox hub on real HTTP

CONFIG = HealthConfig(interval_seconds=60, budget=10, timeout=5, demo_mode=True)


def running_channel(db, hub: Hub, stack: ExitStack) -> str:
    channel_id = hub.sandbox.onboard("Health Cafe", ["+49 151 5550001"])["channel_ids"][0]
    api = hub.api()
    stack.callback(api.close)
    wait_for(lambda: api.list_channels(filters={"id": channel_id})["partner_channels"][0]["status"] == "running")
    with db.atomic():
        upsert_channel(db, channel_id, {"status": "running", "phone_number": "+49 151 5550001"}, source="test")
    return channel_id


def key_stopped_alerts(db) -> list[tuple[str, str]]:
    now = datetime.now(UTC)
    record_scans(db, scan_rules(db, AlertSettings(), now), now)
    return db.execute("select subject, state from alerts where rule = 'key_stopped' order by id").fetchall()


def due_now(db) -> None:
    with db.atomic():
        db.execute("update key_health set due_at = 0")


def test_a_key_the_client_replaced_in_its_hub_stops_and_a_new_key_clears_it(tmp_path, db) -> None:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        vault = KeyVault(hub.settings.encryption_key)
        api = hub.api()
        stack.callback(api.close)
        channel_id = running_channel(db, hub, stack)
        first = generate_key(db, api, vault, channel_id, actor=person("ana"))

        run_round(db, vault, CONFIG)
        due_now(db)
        assert run_round(db, vault, CONFIG).checked == 1
        assert channel_key_health(db, channel_id).status == "ok"

        api.generate_api_key(channel_id)  # a key made outside the console revokes the console's
        due_now(db)
        report = run_round(db, vault, CONFIG)
        assert (report.checked, report.stopped) == (1, 1)
        health = channel_key_health(db, channel_id)
        assert health.status == "stopped"
        assert "360dialog refused the key ending" in health.detail
        assert "Invalid api_key or token expired" in health.detail
        assert first.api_key not in health.detail
        [item] = key_stopped(db)
        assert item.detail.endswith("Generate a new key for +49 151 5550001")
        assert "key stopped working" in [entry.what for entry in channel_timeline(db, channel_id)]
        for _ in range(3):
            due_now(db)
            run_round(db, vault, CONFIG)
            [(subject, state)] = key_stopped_alerts(db)
        assert state == "firing"

        generate_key(db, api, vault, channel_id, actor=person("ana"), replace_existing=True)
        assert key_stopped(db) == []
        run_round(db, vault, CONFIG)  # the new key is followed from now on
        due_now(db)
        run_round(db, vault, CONFIG)
        assert channel_key_health(db, channel_id).status == "ok"
        assert key_stopped_alerts(db) == [(subject, "resolved")]


def test_the_key_health_process_finds_a_stopped_key_within_a_round_and_stops_cleanly(tmp_path) -> None:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        settings = hub.settings
        vault = KeyVault(settings.encryption_key)
        db = open_console_db(settings.console_db_path)
        stack.callback(db.close)
        api = hub.api()
        stack.callback(api.close)
        channel_id = running_channel(db, hub, stack)
        key = generate_key(db, api, vault, channel_id, actor=person("ana"))
        env = {key_: value for key_, value in os.environ.items() if key_ not in LIVE_ENV_KEYS}
        env.update(
            CONSOLE_DATA_DIR=str(settings.data_dir),
            CONSOLE_SECRETS_FILE=str(settings.data_dir / "no-secrets.toml"),
            SANDBOX_URL=settings.sandbox_url,
            CONSOLE_RECEIVER_URL=settings.receiver_url,
            CONSOLE_KEY_HEALTH_MINUTES="0.02",  # each key every 1.2 s
            CONSOLE_KEY_HEALTH_ROUND_SECONDS="0.2",
            CONSOLE_LOG_LEVEL="DEBUG",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "services.keys.health"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: (found := process_status(db)) is not None and found.pid == process.pid, timeout=30)
            wait_for(lambda: (health := channel_key_health(db, channel_id)) and health.status == "ok", timeout=30)
            api.generate_api_key(channel_id)
            wait_for(lambda: channel_key_health(db, channel_id).status == "stopped", timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert not process_status(db).running
        assert "ok -> stopped" in output
        assert key.api_key not in output
        assert settings.encryption_key not in output
        assert "Traceback" not in output
