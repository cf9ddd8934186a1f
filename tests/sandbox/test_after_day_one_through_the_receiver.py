"""After day one, played by the real sandbox hub and told to the real receiver over loopback HTTP: a rejected
template shows on every number of its WABA, a business portfolio limit drop fires exactly one alert naming its
numbers, and a processed cancellation ends the channel."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest

from services.alerts.rounds import alert_round
from services.channels.endings import ended_reason
from services.channels.projection import get_channel
from services.demo.hub_client import SandboxClient
from services.read_models.channel_timeline import channel_timeline
from services.read_models.work_queue import needs_attention
from services.sandbox.server import create_app as create_hub
from services.settings import AlertSettings
from tests.support.console import console_db
from tests.support.receiver import running_receiver, wait_until_listed
from tests.support.sandbox_hub import sandbox_settings
from tests.support.servers import free_port, serving, wait_for

pytestmark = pytest.mark.processes  # the hub and the receiver on uvicorn, a few seconds

NUMBERS = ["+49 151 7000001", "+49 151 7000002", "+49 151 7000003"]


def _outbox_delivered(sandbox: SandboxClient) -> bool:
    return all(entry["delivered_at"] for entry in sandbox.outbox(1000))


def _settle(sandbox: SandboxClient, db_path: Path) -> None:
    """Until the hub has delivered everything it queued and the receiver's writer has listed it."""
    wait_for(lambda: _outbox_delivered(sandbox), timeout=60)
    wait_until_listed(db_path)


def test_templates_portfolio_limits_and_cancellations_reach_the_channels(tmp_path: Path) -> None:
    sandbox_port, receiver_port = free_port(), free_port()
    settings = sandbox_settings(tmp_path, sandbox_port=sandbox_port, receiver_port=receiver_port)
    with (
        running_receiver(settings, receiver_port),
        serving(create_hub(settings), sandbox_port) as hub_url,
        contextlib.closing(SandboxClient(hub_url, settings.partner_api_key)) as sandbox,
        console_db(settings.console_db_path) as db,
    ):
        onboarded = sandbox.onboard("Portfolio Shop", NUMBERS)
        client_id, channel_ids = onboarded["client_id"], onboarded["channel_ids"]
        wait_for(lambda: all((get_channel(db, cid) or {}).get("status") == "running" for cid in channel_ids), 60)
        sandbox.change_portfolio_limit(client_id, "100000")
        _settle(sandbox, settings.console_db_path)

        alerts = replace(AlertSettings(), urls=(), quality_drop=True, limit_drop=True, template=True)
        alert_round(db, alerts, [], "http://console.test")
        assert db.execute("select count(*) from alerts where rule = 'limit_drop'").fetchone()[0] == 0

        sandbox.change_portfolio_limit(client_id, "2000")
        sent = sandbox.template_status_change(channel_ids[0], "rejected")
        _settle(sandbox, settings.console_db_path)
        for channel_id in channel_ids:
            channel = get_channel(db, channel_id)
            assert (channel["portfolio_id"], channel["waba_id"]) == (client_id + "BU", sent["waba_id"])
            template_lines = [entry.detail for entry in channel_timeline(db, channel_id) if "template" in entry.what]
            assert template_lines == [f"template order_update (en): rejected (WABA {sent['waba_id']})"]

        report = alert_round(db, alerts, [], "http://console.test")
        limit_alerts = db.execute("select subject, detail from alerts where rule = 'limit_drop'").fetchall()
        assert [subject for subject, _ in limit_alerts] == [f"limit/business portfolio {client_id}BU"]
        assert f"fell from 100000 to 2000 for business portfolio {client_id}BU" in limit_alerts[0][1]
        assert "3 numbers: " + ", ".join(NUMBERS) in limit_alerts[0][1]
        assert db.execute("select count(*) from alerts where rule = 'quality_drop'").fetchone()[0] == 0
        assert db.execute("select count(*) from alerts where rule = 'template'").fetchone()[0] == len(channel_ids)
        assert report.changes.fired == 1 + len(channel_ids)
        assert alert_round(db, alerts, [], "http://console.test").changes.fired == 0

        sandbox.cancellation(channel_ids[2], "request")
        _settle(sandbox, settings.console_db_path)
        reasons = {(item.channel_id, item.reason) for item in needs_attention(db, stuck_after_minutes=60)}
        assert (channel_ids[2], "cancellation requested") in reasons
        sandbox.cancellation(channel_ids[2], "process")
        _settle(sandbox, settings.console_db_path)
        ended = get_channel(db, channel_ids[2])
        assert ended["ended"] == "terminated"
        assert "takes no key" in ended_reason(ended)


def test_a_channel_reaches_running_from_channel_running_alone(tmp_path: Path) -> None:
    # 360dialog's webhook reference names the transition channel_running, with no status in its body: the hub's
    # onboarding sends that name only, and the console, told through the real receiver, takes the channel to running.
    sandbox_port, receiver_port = free_port(), free_port()
    settings = sandbox_settings(tmp_path, sandbox_port=sandbox_port, receiver_port=receiver_port)
    with (
        running_receiver(settings, receiver_port),
        serving(create_hub(settings), sandbox_port) as hub_url,
        contextlib.closing(SandboxClient(hub_url, settings.partner_api_key)) as sandbox,
        console_db(settings.console_db_path) as db,
    ):
        channel_ids = sandbox.onboard("Running Name Shop", NUMBERS[:2])["channel_ids"]
        _settle(sandbox, settings.console_db_path)
        wait_for(lambda: all((get_channel(db, cid) or {}).get("status") == "running" for cid in channel_ids), 30)
        told = {
            row["event_type"]
            for row in db.query("select event_type from events where channel_id in (?, ?)", channel_ids)
        }
        assert told == {"channel_created", "channel_submitted", "channel_live", "channel_running"}
