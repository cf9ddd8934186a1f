"""`python -m services.scheduler` alerting as a real process, stopped and started again in the middle of its work
(killed outright, then stopped while deliveries wait to be retried): nothing is sent twice and nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.alerts.ledger import delivery_history
from tests.support import ROOT
from tests.support.alert_conditions import BUSINESS, Clock, add_channel, phone_of
from tests.support.alert_sinks import json_sink
from tests.support.console import LIVE_ENV_KEYS, console_db
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes

RULES_OFF = (
    "QUALITY_DROP",
    "LEFT_RUNNING",
    "NO_KEY",
    "REVOKED",
    "ACCOUNT",
    "KEY_CHAIN",
    "REJECTIONS",
    "HEARTBEAT",
    "SYNC_FAILED",
)


def start(data_dir: Path, sink_url: str, run: int) -> subprocess.Popen:
    inherited = {key: value for key, value in os.environ.items() if key not in LIVE_ENV_KEYS}
    env = {
        **inherited,
        "CONSOLE_MODE": "demo",
        "CONSOLE_DATA_DIR": str(data_dir),
        "CONSOLE_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
        # Alerts only: no Partner API here.
        "CONSOLE_SYNC_MINUTES": "0",
        "CONSOLE_ALERT_URLS": sink_url,
        "CONSOLE_ALERT_CHECK_SECONDS": "0.2",
        "CONSOLE_ALERT_RETRY_SECONDS": "0.2",
        **{f"CONSOLE_ALERT_{rule}": "off" for rule in RULES_OFF},
    }
    log = (data_dir / f"scheduler-{run}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "services.scheduler"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def deliveries(data_dir: Path) -> list[dict]:
    with console_db(data_dir / "console.db") as db:
        return delivery_history(db)


def title(channel_id: str) -> str:
    return f"Stuck in onboarding: {BUSINESS}, {phone_of(channel_id)}"


def grouped_title(*channel_ids: str) -> str:
    named = "; ".join(f"{BUSINESS}, {phone_of(channel_id)}" for channel_id in channel_ids)
    return f"{len(channel_ids)} numbers stuck in onboarding: {named}"


def test_a_restart_in_the_middle_sends_nothing_twice_and_loses_nothing(data_dir: Path) -> None:
    clock = Clock()
    with console_db(data_dir / "console.db") as db:
        for channel_id in ("aCH", "bCH"):
            add_channel(db, channel_id, clock, status="pending", changed_minutes_ago=120)

    with json_sink() as (sink, sink_url):
        # 1. Both alerts go out (one message about both) and are recorded; then the process is killed outright,
        # between two rounds.
        first = start(data_dir, sink_url, 1)
        try:
            sink.wait_for_count(1, timeout=60)
            wait_for(lambda: [row["status"] for row in deliveries(data_dir)] == ["sent"], timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)

        # 2. While it is down, a is running again and c gets stuck; the destination is down too.
        with console_db(data_dir / "console.db") as db:
            with db.atomic():
                db.execute(
                    "update channels set status = 'running', status_changed_at = ? where id = 'aCH'", [clock.iso()]
                )
            add_channel(db, "cCH", clock, status="pending", changed_minutes_ago=120)
        sink.failing = 10**6
        second = start(data_dir, sink_url, 2)
        try:
            wait_for(lambda: sum(row["state"] == "retrying" for row in deliveries(data_dir)) == 2, timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
        assert sink.titles() == [grouped_title("aCH", "bCH")]

        # 3. Back up: what waited goes out once, and what went out before is not sent again.
        sink.failing = 0
        third = start(data_dir, sink_url, 3)
        try:
            sink.wait_for_count(3, timeout=60)
            # Several more rounds, each finding the same conditions.
            with console_db(data_dir / "console.db") as db:
                wait_for(lambda: db.execute("select count(*) from alerts").fetchone()[0] == 3, timeout=10)
            time.sleep(2)
        finally:
            third.send_signal(signal.SIGTERM)
            assert third.wait(timeout=60) == 0

    assert sorted(sink.titles()) == sorted([grouped_title("aCH", "bCH"), title("cCH"), "Resolved: " + title("aCH")])
    rows = deliveries(data_dir)
    assert [row["status"] for row in rows] == ["sent"] * 3
    # Newest first: the two that waited were tried before the stop and sent after it; the first once.
    assert [row["attempts"] >= 2 for row in rows] == [True, True, False]
    for run in (2, 3):
        assert "Traceback" not in (data_dir / f"scheduler-{run}.log").read_text()
