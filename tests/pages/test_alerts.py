"""The Alerts page in AppTest: its destinations by scheme and host, the test button against a real sink, the
rules and what fires, the delivery history with the retried and the failed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.accounts import OPERATOR, VIEWER
from services.alerts.destinations import destinations
from services.alerts.rounds import alert_round
from services.settings import load_settings
from tests.support.alert_conditions import BUSINESS, Clock, add_channel, phone_of
from tests.support.alert_sinks import json_sink
from tests.support.console import console_db, use_demo
from tests.support.pages import as_person, close_session_db, page_app
from tests.support.people import person
from tests.support.servers import free_port

SECRET = "pw-" + "Kq7" * 6


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, data_dir: Path):
    with json_sink() as (found, url):
        closed = f"json://ops:{SECRET}@127.0.0.1:{free_port()}/hook"
        use_demo(
            monkeypatch,
            data_dir,
            CONSOLE_ALERT_URLS=f"{url}, {closed}",
            CONSOLE_ALERT_RETRY_SECONDS="60",
            CONSOLE_ALERT_HEARTBEAT="off",
        )
        yield found, url, closed


def run_page(sessions: list[AppTest]) -> AppTest:
    app = page_app("alerts.py")
    sessions.append(app)
    return app.run()


def table(app: AppTest, column: str):
    """The page's table that has `column`: "threshold" for the rules, "told" for what fires now."""
    [found] = [frame.value for frame in app.dataframe if column in frame.value.columns]
    return found


def texts(app: AppTest) -> str:
    parts = [
        element.value
        for kind in ("text", "markdown", "caption", "info", "warning", "success", "error")
        for element in getattr(app, kind)
    ]
    return "\n".join(str(part) for part in parts)


def test_without_a_destination_it_says_alerts_are_off(monkeypatch, data_dir, sessions) -> None:
    use_demo(monkeypatch, data_dir, CONSOLE_ALERT_URLS="off")
    app = run_page(sessions)
    assert not app.exception
    assert "No destination, so no alerts: set CONSOLE_ALERT_URLS" in texts(app)
    assert app.button[0].disabled
    rules = table(app, "threshold")
    assert len(rules) == 14
    assert "Stuck in onboarding" in list(rules["rule"])


@pytest.mark.processes
def test_the_test_button_sends_to_each_destination_and_says_how_it_went(sink, sessions) -> None:
    found, url, _ = sink
    app = run_page(sessions)
    assert not app.exception
    shown = texts(app)
    port = url.split(":")[2].split("/")[0]
    assert f"✅ json://127.0.0.1:{port}" in shown
    assert SECRET not in shown
    assert "The scheduler is not running" in shown

    app.button[0].click().run()
    assert not app.exception
    [success] = app.success
    assert success.value.replace("\\", "") == f"Test alert sent to json://127.0.0.1:{port}."
    [failure] = app.error
    assert "Test alert to json://127" in failure.value.replace("\\", "")
    assert "It is tried again at" in failure.value.replace("\\", "")
    assert SECRET not in failure.value
    assert found.titles() == ["Test alert from the onboarding console"]
    history = app.dataframe[-1].value
    assert sorted(history["state"]) == ["retrying", "sent"]
    assert set(history["kind"]) == {"test"}
    assert SECRET not in history.to_string()


@pytest.mark.processes
def test_firing_alerts_and_the_history_show_the_channel_and_what_happened(sink, sessions) -> None:
    settings = load_settings()
    clock = Clock()
    with console_db(settings.console_db_path) as db:
        add_channel(db, "stuckCH", clock, status="pending", changed_minutes_ago=120)
        alert_round(db, settings.alerts, destinations(settings.alerts.urls), settings.public_url, clock=clock)
    app = run_page(sessions)
    assert not app.exception
    firing = table(app, "told")
    [row] = firing.to_dict("records")
    assert row["rule"] == "Stuck in onboarding"
    assert row["about"] == f"{phone_of('stuckCH')} ({BUSINESS})"
    assert row["open"] == f"{settings.public_url}/channels?open=stuckCH"
    history = app.dataframe[-1].value
    assert sorted(history["state"]) == ["retrying", "sent"]
    failed = history[history["state"] == "retrying"].iloc[0]
    assert "Connection error" in failed["last error"]
    assert failed["message"] == f"Stuck in onboarding: {BUSINESS}, {phone_of('stuckCH')}"
    close_session_db(app)


@pytest.mark.processes
def test_the_page_says_what_the_hourly_cap_holds_and_until_when(monkeypatch, data_dir, sessions) -> None:
    with json_sink() as (found, url):
        use_demo(monkeypatch, data_dir, CONSOLE_ALERT_URLS=url, CONSOLE_ALERT_MAX_PER_HOUR="1")
        settings = load_settings()
        clock = Clock()
        known = destinations(settings.alerts.urls)
        with console_db(settings.console_db_path) as db:
            add_channel(db, "stuckCH", clock, status="pending", changed_minutes_ago=120)
            alert_round(db, settings.alerts, known, settings.public_url, clock=clock)
            for number in range(12):
                add_channel(db, f"nokey{number}CH", clock, changed_minutes_ago=120)
            clock.advance(minutes=5)
            alert_round(db, settings.alerts, known, settings.public_url, clock=clock)
            [first] = [row[0] for row in db.execute("select created_at from alert_messages")]
        assert len(found.titles()) == 1
    until = (datetime.fromisoformat(first) + timedelta(hours=1)).strftime("%H:%M")
    app = run_page(sessions)
    assert not app.exception
    assert f"12 warning alerts held by the hourly cap until {until} UTC." in texts(app).replace("\\", "")
    firing = table(app, "told")
    told = dict(zip(firing["about"], firing["told"], strict=True))
    assert told[f"{phone_of('stuckCH')} ({BUSINESS})"] == "yes"
    assert told[f"{phone_of('nokey0CH')} ({BUSINESS})"].startswith("held by the hourly cap until ")
    assert set(firing["severity"]) == {"warning"}
    assert "severity" in table(app, "threshold").columns
    close_session_db(app)


@pytest.mark.processes
def test_an_operator_acknowledges_and_snoozes_an_alert_from_the_page(sink, monkeypatch, sessions) -> None:
    settings = load_settings()
    clock = Clock()
    with console_db(settings.console_db_path) as db:
        add_channel(db, "stuckCH", clock, status="pending", changed_minutes_ago=120)
        alert_round(db, settings.alerts, destinations(settings.alerts.urls), settings.public_url, clock=clock)
    as_person(monkeypatch, person("olga", OPERATOR))
    app = run_page(sessions)
    assert not app.exception
    app.button(key="alert_ack").click().run()
    assert not app.exception
    assert any("Acknowledged alert #1" in element.value.replace("\\", "") for element in app.success)
    [row] = table(app, "told").to_dict("records")
    assert row["acknowledged"].startswith("by olga at ")

    app.selectbox(key="alert_snooze_for").set_value("1 day")
    app.button(key="alert_snooze").click().run()
    assert not app.exception
    [answer] = [element.value.replace("\\", "") for element in app.success if "Snoozed" in element.value]
    assert "Snoozed alert #1 until " in answer
    [row] = table(app, "told").to_dict("records")
    assert row["told"].startswith("snoozed until ")
    close_session_db(app)
    with console_db(settings.console_db_path) as db:
        audited = [(r["operator"], r["action"]) for r in db.query("select * from audit order by id")]
    assert audited == [("olga", "acknowledge_alert"), ("olga", "snooze_alert")]


@pytest.mark.processes
def test_a_viewer_sees_the_alerts_but_may_not_acknowledge_or_snooze(sink, monkeypatch, sessions) -> None:
    settings = load_settings()
    clock = Clock()
    with console_db(settings.console_db_path) as db:
        add_channel(db, "stuckCH", clock, status="pending", changed_minutes_ago=120)
        alert_round(db, settings.alerts, destinations(settings.alerts.urls), settings.public_url, clock=clock)
    as_person(monkeypatch, person("vic", VIEWER))
    app = run_page(sessions)
    assert not app.exception
    assert app.button(key="alert_ack").disabled
    assert app.button(key="alert_snooze").disabled
    close_session_db(app)
