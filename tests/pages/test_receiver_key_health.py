"""Receiver health's key-health section, run with Streamlit's AppTest: the last round, the tally of verdicts, and
whether the key-health process is alive."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from services.channels.projection import upsert_channel
from services.keys.health import status
from tests.support.console import console_db, use_demo
from tests.support.pages import close_session_db, page_app


def run_page() -> AppTest:
    app = page_app("receiver.py")
    app.run()
    return app


def _keys(db, verdicts: list[str]) -> None:
    with db.atomic():
        for number, verdict in enumerate(verdicts):
            channel_id = f"kh{number}CH"
            upsert_channel(db, channel_id, {"status": "running"}, source="test")
            key_id = (
                db["api_keys"]
                .insert(
                    {
                        "channel_id": channel_id,
                        "operator": "ana",
                        "created_at": "2026-12-01",
                        "outcome": "ok",
                        "status": "active",
                    }
                )
                .last_pk
            )
            db["key_health"].insert(
                {"key_id": key_id, "channel_id": channel_id, "status": verdict, "failures": 0, "due_at": 0.0}
            )


def test_the_last_round_and_the_process_are_shown(db_path: Path) -> None:
    with console_db(db_path) as db:
        _keys(db, ["ok", "ok", "ok", "stopped", "limited"])
        with db.atomic():
            db["key_health_rounds"].insert(
                {
                    "holder": "host:1",
                    "started_at": "2026-12-04T23:10:00.000000+00:00",
                    "finished_at": "2026-12-04T23:10:01.500000+00:00",
                    "checked": 40,
                    "stopped": 1,
                    "could_not_check": 2,
                    "still_due": 7,
                }
            )
        status.mark_started(db, interval_minutes=60)

    app = run_page()
    try:
        assert not app.exception
        metrics = {metric.label: metric.value for metric in app.metric}
        # How long ago (a full date and time would be cut in a narrow column); the exact time in its help.
        assert metrics["Last key round"].endswith(" ago")
        [when] = [metric for metric in app.metric if metric.label == "Last key round"]
        assert when.help == "2026-12-04 23:10:01 UTC"
        assert (metrics["Keys checked"], metrics["Stopped working"]) == ("40", "1")
        assert (metrics["Could not check"], metrics["Still due"]) == ("2", "7")
        captions = [caption.value for caption in app.caption]
        assert any(
            f"checked every 60 min: the key-health process (pid {os.getpid()}) runs since" in caption
            for caption in captions
        )
        texts = [text.value for text in app.text]
        assert "Active keys: 3 working; 1 working, but Meta limits sending; 1 key stopped working." in texts
    finally:
        close_session_db(app)


def test_a_stopped_process_and_no_round_yet_are_said(db_path: Path) -> None:
    with console_db(db_path) as db:
        status.mark_started(db, interval_minutes=1)
        status.mark_stopped(db)
    app = run_page()
    try:
        assert not app.exception
        assert "Last key round" not in [metric.label for metric in app.metric]
        assert "No key-health round has checked a key yet." in [text.value for text in app.text]
        assert any("the key-health process stopped at" in caption.value for caption in app.caption)
    finally:
        close_session_db(app)


def test_checks_turned_off_are_said(monkeypatch, data_dir: Path, db_path: Path) -> None:
    use_demo(monkeypatch, data_dir, CONSOLE_KEY_HEALTH_MINUTES="0")
    app = run_page()
    try:
        assert not app.exception
        assert any("Key health checks are off (CONSOLE_KEY_HEALTH_MINUTES = 0)" in c.value for c in app.caption)
    finally:
        close_session_db(app)
