"""Delivery over real transports: a failed delivery is tried again with backoff and shown as such, given up after
its last attempt with the reason, never sent twice (claimed, recorded), and never shown with its URL's secrets."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from services.accounts import ADMIN
from services.alerts.delivery import next_try_in, retry_policy, send_test_alert
from services.alerts.destinations import destinations
from services.alerts.ledger import delivery_history
from services.alerts.rounds import alert_round
from tests.alerts.conftest import PUBLIC_URL
from tests.support.alert_conditions import add_channel, alert_settings
from tests.support.alert_sinks import json_sink, smtp_sink
from tests.support.people import person
from tests.support.servers import free_port


def run(db, settings, found, clock):
    return alert_round(db, settings, found, PUBLIC_URL, clock=clock)


def test_backoff_doubles_up_to_an_hour_and_stops_after_the_last_attempt() -> None:
    policy = retry_policy(alert_settings([], retry_seconds=30, max_attempts=8))
    waits = [next_try_in(policy, attempts) for attempts in range(1, 9)]
    assert waits[-1] is None
    for attempts, wait in enumerate(waits[:-1], start=1):
        base = min(30 * 2 ** (attempts - 1), 3600)
        assert base <= wait <= base + 7.5


@pytest.mark.processes
def test_a_failed_delivery_is_retried_with_backoff_and_shown(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "revoked", retry_seconds=60)
    found = destinations(settings.urls)
    add_channel(db, "revokedCH", clock, revoked=1)
    sink.failing = 2

    [outcome] = run(db, settings, found, clock).outcomes
    assert not outcome.sent
    [row] = delivery_history(db)
    assert (row["state"], row["attempts"]) == ("retrying", 1)
    assert "500" in row["last_error"] or "JSON" in row["last_error"]
    due = datetime.fromisoformat(row["next_attempt_at"])
    assert timedelta(seconds=60) <= due - clock.now <= timedelta(seconds=75)

    # Not due yet: nothing is tried.
    clock.advance(seconds=30)
    assert run(db, settings, found, clock).outcomes == []
    clock.advance(seconds=50)
    [second] = run(db, settings, found, clock).outcomes
    assert not second.sent
    assert delivery_history(db)[0]["attempts"] == 2
    clock.advance(seconds=200)
    [third] = run(db, settings, found, clock).outcomes
    assert third.sent
    [row] = delivery_history(db)
    assert (row["state"], row["status"], row["attempts"]) == ("sent after 3 tries", "sent", 3)
    assert sink.refused == 2
    assert len(sink.titles()) == 1
    clock.advance(hours=2)
    assert run(db, settings, found, clock).outcomes == []


def test_after_the_last_attempt_it_shows_as_failed_with_the_reason(db, clock) -> None:
    closed = f"json://127.0.0.1:{free_port()}/hook"
    settings = alert_settings([closed], "revoked", max_attempts=2, retry_seconds=1)
    found = destinations(settings.urls)
    add_channel(db, "revokedCH", clock, revoked=1)
    run(db, settings, found, clock)
    clock.advance(seconds=5)
    run(db, settings, found, clock)
    [row] = delivery_history(db)
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("failed", 2, None)
    assert "Connection error" in row["last_error"]
    clock.advance(hours=3)
    assert run(db, settings, found, clock).outcomes == []


@pytest.mark.processes
def test_a_destination_taken_out_of_the_settings_fails_at_once(db, sink, sink_url, clock) -> None:
    closed = f"json://127.0.0.1:{free_port()}/hook"
    settings = alert_settings([closed, sink_url], "revoked")
    add_channel(db, "revokedCH", clock, revoked=1)
    run(db, settings, destinations(settings.urls), clock)
    clock.advance(seconds=5)
    # Restarted with only the sink: the delivery to the other one has nowhere to go.
    narrower = alert_settings([sink_url], "revoked")
    run(db, narrower, destinations(narrower.urls), clock)
    states = {row["destination"]: (row["state"], row["last_error"]) for row in delivery_history(db)}
    assert states[closed.removesuffix("/hook")] == (
        "failed",
        "this destination is no longer in CONSOLE_ALERT_URLS",
    )
    assert len(sink.titles()) == 1


@pytest.mark.processes
def test_a_delivery_claimed_elsewhere_is_not_sent_again(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "revoked")
    found = destinations(settings.urls)
    add_channel(db, "revokedCH", clock, revoked=1)
    alert_round(db, settings, found, PUBLIC_URL, clock=clock, should_stop=lambda: True)
    with db.atomic():
        db.execute("update alert_deliveries set claimed_until = ?", [clock.iso(seconds=-60)])
    assert run(db, settings, found, clock).outcomes == []
    clock.advance(seconds=61)
    [outcome] = run(db, settings, found, clock).outcomes
    assert outcome.sent
    assert len(sink.titles()) == 1


@pytest.mark.processes
def test_a_test_alert_reaches_every_destination_and_a_failed_one_is_retried(db, sink, sink_url, clock) -> None:
    closed = f"json://127.0.0.1:{free_port()}/hook"
    with smtp_sink() as (mail, mail_url):
        settings = alert_settings([sink_url, mail_url, closed])
        found = destinations(settings.urls)
        outcomes = send_test_alert(db, found, settings, actor=person("ana", ADMIN), public_url=PUBLIC_URL, clock=clock)
        assert [outcome.sent for outcome in outcomes] == [True, True, False]
        assert outcomes[2].next_attempt_at is not None
        assert mail.subjects() == ["Test alert from the onboarding console"]
        assert "Sent by ana from the Alerts page" in mail.text(0)
    [message] = sink.messages()
    assert message["title"] == "Test alert from the onboarding console"
    assert f"{PUBLIC_URL}/alerts" in message["message"]
    states = [row["state"] for row in delivery_history(db)]
    assert states == ["retrying", "sent", "sent"]


@pytest.mark.processes
def test_no_secret_of_a_url_reaches_the_record_or_the_log(db, clock, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    password, token, header = "pw-" + "Zq8" * 6, "tok" + "Xy4" * 8, "hdr" + "Wv9" * 8
    port = free_port()
    url = f"json://ops:{password}@127.0.0.1:{port}/hooks/{token}?+X-Alert-Token={header}"
    with json_sink(port) as (sink, _):
        sink.failing = 1
        settings = alert_settings([url], "revoked", max_attempts=1)
        [found] = destinations(settings.urls)
        assert found.label == f"json://127.0.0.1:{port}"
        assert password not in repr(found) + repr(settings)
        add_channel(db, "revokedCH", clock, revoked=1)
        run(db, settings, [found], clock)
    rows = [str(value) for row in db.query("select * from alert_deliveries") for value in row.values()]
    text = " ".join(rows) + caplog.text
    for secret in (password, token, header):
        assert secret not in text
    assert "failed for good" in caplog.text
