"""The Receiver health page, run with Streamlit's AppTest against a database the receiver has written."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.times import exact
from services.events.incoming import store_incoming
from services.events.webhook import parse_webhook_body
from services.receiver.stats import Rejection, add_to_counters, record_rejections
from services.scheduler import status
from tests.support.console import console_db
from tests.support.events import save_events
from tests.support.pages import close_session_db, page_app
from tests.support.partner_channels import hold_lease
from tests.support.receiver import event_body


def run_page() -> AppTest:
    app = page_app("receiver.py")
    app.run()
    return app


def test_the_page_shows_counts_last_event_and_recent_rejections(db_path: Path):
    with console_db(db_path) as db:
        save_events(db, parse_webhook_body(event_body("evt-1")), headers={}, verdict="valid")
        with db.atomic():
            add_to_counters(db, {"accepted": 7, "duplicate": 2, "rejected": 3})
            record_rejections(
                db,
                [
                    Rejection("2026-01-01T10:00:00+00:00", "198.51.100.7", 401, "signature does not match"),
                    Rejection("2026-01-01T10:05:00+00:00", "198.51.100.8", 413, "body larger than 1048576 bytes"),
                    Rejection("2026-01-01T10:06:00+00:00", "<b>[x](javascript:1)</b>", 405, "method not allowed"),
                ],
            )
        [(last_event_at,)] = db.execute("select received_at from events").fetchall()

    app = run_page()
    try:
        assert not app.exception
        metrics = {metric.label: metric.value for metric in app.metric}
        assert metrics == {
            "Last event stored": "just now",
            "Accepted events": "7",
            "Duplicate events": "2",
            "Rejected requests": "3",
        }
        assert app.metric[0].help == exact(last_event_at)
        frame = app.dataframe[0].value
        assert list(frame["at"]) == ["2026-01-01 10:06:00 UTC", "2026-01-01 10:05:00 UTC", "2026-01-01 10:00:00 UTC"]
        assert list(frame["reason"]) == [
            "method not allowed",
            "body larger than 1048576 bytes",
            "signature does not match",
        ]
        # Addresses are shown as data in a table cell, never rendered as markdown.
        assert frame["source"].iloc[0] == "<b>[x](javascript:1)</b>"
        assert not any("javascript" in block.value for block in app.markdown)
    finally:
        close_session_db(app)


def test_the_page_says_so_when_nothing_happened_yet(db_path: Path):
    app = run_page()
    try:
        assert not app.exception
        metrics = {metric.label: metric.value for metric in app.metric}
        assert metrics["Last event stored"] == "none yet"
        assert metrics["Rejected requests"] == "0"
        assert [info.value for info in app.info] == ["No request has been refused."]
    finally:
        close_session_db(app)


def test_events_stored_but_not_yet_listed_are_counted_and_newest_is_the_last_event(db_path: Path):
    with console_db(db_path) as db:
        save_events(db, parse_webhook_body(event_body("evt-listed")), headers={}, verdict="valid")
        with db.atomic():
            items = [(event, "{}", "valid") for event in parse_webhook_body(event_body("evt-incoming"))]
            store_incoming(db, items, received_at="2999-01-01T00:00:00.000000+00:00")

    app = run_page()
    try:
        assert not app.exception
        metrics = {metric.label: metric.value for metric in app.metric}
        assert metrics["Last event stored"].endswith(" years")  # "in 973 years": the newest, even if incoming
        assert app.metric[0].help == "2999-01-01 00:00:00 UTC"
        assert app.info[0].value.startswith("1 stored events are not yet listed")
    finally:
        close_session_db(app)


def test_an_unreadable_database_is_a_clear_message_not_a_traceback(db_path: Path):
    db_path.mkdir()  # a folder where the database file should be

    app = run_page()

    assert not app.exception
    assert len(app.error) == 1
    assert "console database cannot be read" in app.error[0].value


def test_the_page_names_how_the_newest_event_was_signed(db_path: Path):
    with console_db(db_path) as db:
        save_events(db, parse_webhook_body(event_body("evt-1")), headers={}, verdict="valid (base64)")

    app = run_page()
    close_session_db(app)

    assert "Signature of the newest event listed: valid (base64)." in [caption.value for caption in app.caption]


# -- the Partner API sync: last run, duration, outcome, the scheduler --------------------------------------


def _record_run(db_path: Path, **fields) -> None:
    row = {
        "trigger": "scheduler",
        "operator": "scheduler",
        "started_at": "2026-03-01T10:00:00.000000+00:00",
        "finished_at": "2026-03-01T10:00:02.500000+00:00",
        "duration_seconds": 2.5,
        "outcome": "ok",
        "seen": 1200,
        "total": 1200,
        "new_channels": 3,
        "changed_channels": 5,
        "left_running": 1,
        **fields,
    }
    with console_db(db_path) as db, db.atomic():
        db["sync_runs"].insert(row)


def test_the_last_sync_its_duration_and_outcome_are_shown(db_path: Path):
    _record_run(db_path, started_at="2026-03-01T09:45:00.000000+00:00")
    _record_run(db_path)

    app = run_page()
    close_session_db(app)

    assert not app.exception
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Last sync started (UTC)"] == "2026-03-01 10:00:00"
    assert metrics["Last sync took"] == "2.5 s"
    assert metrics["Last sync outcome"] == "ok"
    texts = [text.value for text in app.text]
    assert "by the scheduler · 1,200 channels read, 3 new, 5 changed, 1 left running" in texts
    runs = app.dataframe[-1].value
    assert list(runs["started (UTC)"]) == ["2026-03-01 10:00:00", "2026-03-01 09:45:00"]
    assert list(runs["by"]) == ["the scheduler", "the scheduler"]


def test_a_failed_sync_says_what_went_wrong_and_who_ran_it(db_path: Path):
    _record_run(
        db_path,
        trigger="operator",
        operator="alice",
        outcome="failed",
        error_kind="rate_limited",
        error="Rate limited by the Partner API (429); retry after 60 s",
        seen=0,
        new_channels=0,
        changed_channels=0,
        left_running=0,
    )

    app = run_page()
    close_session_db(app)

    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Last sync outcome"] == "failed"
    texts = [text.value for text in app.text]
    assert (
        "by alice · 0 channels read, 0 new, 0 changed · Rate limited by the Partner API (429); retry after 60 s"
    ) in texts


def test_before_any_sync_the_page_says_so_and_the_scheduler_state(db_path: Path):
    app = run_page()
    close_session_db(app)

    assert "No sync has run yet." in [text.value for text in app.text]
    captions = [caption.value for caption in app.caption]
    assert "Automatic sync every 15 min: the scheduler has not started yet." in captions
    assert not [metric for metric in app.metric if metric.label.startswith("Last sync")]


def test_a_running_scheduler_shows_its_next_run_and_a_sync_under_way_its_holder(db_path: Path):
    with console_db(db_path) as db:
        status.mark_started(db, interval_minutes=15)
        status.mark_next_run(db, "2999-03-01T10:15:00.000000+00:00")
        hold_lease(db)

    app = run_page()
    close_session_db(app)

    captions = [caption.value for caption in app.caption]
    assert any(
        caption.startswith("Automatic sync every 15 min: the scheduler runs since")
        and caption.endswith("next sync at 2999-03-01 10:15:00 (UTC).")
        for caption in captions
    )
    assert any(caption.startswith("A sync is running now, started by bob at") for caption in captions)


def test_a_scheduler_whose_next_run_is_long_past_is_questioned(db_path: Path):
    with console_db(db_path) as db:
        status.mark_started(db, interval_minutes=15)
        status.mark_next_run(db, "2020-01-01T00:00:00.000000+00:00")

    app = run_page()
    close_session_db(app)

    assert any(
        caption.value.endswith(
            "next sync at 2020-01-01 00:00:00 (UTC). That is past: is the scheduler still running? See its log."
        )
        for caption in app.caption
    )


def test_a_stopped_scheduler_is_named_as_such(db_path: Path):
    with console_db(db_path) as db:
        status.mark_started(db, interval_minutes=15)
        status.mark_stopped(db)
        stopped_at = status.scheduler_status(db).stopped_at

    app = run_page()
    close_session_db(app)

    expected = f"the scheduler stopped at {stopped_at[:19].replace('T', ' ')} (UTC), not running now."
    assert any(caption.value.endswith(expected) for caption in app.caption)


def test_with_automatic_sync_off_the_page_says_how_to_sync(db_path: Path, monkeypatch):
    monkeypatch.setenv("CONSOLE_SYNC_MINUTES", "0")

    app = run_page()
    close_session_db(app)

    assert "Automatic sync is off (CONSOLE_SYNC_MINUTES = 0): channels are synced only from the Channels page." in [
        caption.value for caption in app.caption
    ]
