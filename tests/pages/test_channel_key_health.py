"""Key health on the Channels page (AppTest): a key 360dialog refused is on the work queue with its action, and the
channel's view shows the last check, how long ago, and what to do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import responses

from services.channels.projection import upsert_channel
from tests.support.console import console_db
from tests.support.pages import close_session_db, page_app

HEALTHY = {"health_status": {"can_send_message": "AVAILABLE", "entities": []}}
DETAIL = (
    "360dialog refused the key ending 9876 (401): Invalid api_key or token expired; the client may have generated"
    " its own key or withdrawn the partner's permission in its 360dialog hub"
)


def _stopped_key(db_path: Path, *, minutes_ago: float) -> None:
    checked = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(timespec="microseconds")
    with console_db(db_path) as db, db.atomic():
        upsert_channel(
            db, "stopCH", {"status": "running", "phone_number": "+49 151 777", "phone_name": "Stop Cafe"}, source="t"
        )
        key_id = (
            db["api_keys"]
            .insert(
                {
                    "channel_id": "stopCH",
                    "operator": "ana",
                    "created_at": "2026-12-01T10:00:00",
                    "outcome": "ok",
                    "status": "active",
                    "address": "https://waba-v2.360dialog.io",
                    "key_last4": "9876",
                }
            )
            .last_pk
        )
        db["key_health"].insert(
            {
                "key_id": key_id,
                "channel_id": "stopCH",
                "status": "stopped",
                "detail": DETAIL,
                "checked_at": checked,
                "changed_at": checked,
                "failures": 0,
                "due_at": 0.0,
            }
        )


def test_a_stopped_key_is_on_the_queue_and_its_view_says_what_to_do(db_path: Path) -> None:
    _stopped_key(db_path, minutes_ago=12)
    app = page_app("channels.py")
    try:
        app.run()
        assert not app.exception
        queue = app.dataframe[0].value
        [row] = queue[queue["needs"] == "key stopped working"].to_dict("records")
        assert row["detail"] == f"{DETAIL} · Generate a new key for +49 151 777"

        app.query_params["open"] = "stopCH"
        app.run()
        assert not app.exception
        texts = [text.value for text in app.text]
        assert "❌ Key health: key stopped working, checked 12 min ago" in texts
        assert DETAIL in texts
        assert any("stopped working. Generate a new key for it below" in error.value for error in app.error)
        assert any(button.label.startswith("Generate a new key for") for button in app.button)
    finally:
        close_session_db(app)


def test_check_now_asks_360dialog_and_shows_the_verdict(db_path: Path) -> None:
    from services.keys.vault import KeyVault
    from services.settings import load_settings

    _stopped_key(db_path, minutes_ago=90)
    with console_db(db_path) as db, db.atomic():
        sealed = KeyVault(load_settings().encryption_key).seal("Rk5pageCheckKey0123456789")
        db.execute("update api_keys set key_encrypted = ? where channel_id = 'stopCH'", [sealed])
    app = page_app("channels.py")
    try:
        app.query_params["open"] = "stopCH"
        app.run()
        [check] = [b for b in app.button if b.label == "Check the key health of +49 151 777 (Stop Cafe) now"]
        with responses.RequestsMock() as mocked:
            mocked.get("https://waba-v2.360dialog.io/health_status", json=HEALTHY)
            check.click()
            app.run()
        assert not app.exception
        assert "✅ Key health: working, checked just now" in [text.value for text in app.text]
        assert not app.error
    finally:
        close_session_db(app)
    with console_db(db_path) as db:
        assert db.execute("select outcome from audit where action = 'check_key_health'").fetchall() == [("ok",)]
