"""Sane volume, over real HTTP to a sink: one alert per subject and condition until it resolves, a cap per hour
with one summary of what it held back, a digest every N minutes, and no news lost or sent twice on the way."""

from __future__ import annotations

from services.accounts import ADMIN
from services.alerts.delivery import send_test_alert
from services.alerts.destinations import destinations
from services.alerts.ledger import open_alerts, rule_states
from services.alerts.rounds import alert_round
from tests.alerts.conftest import PUBLIC_URL
from tests.support.alert_conditions import BUSINESS, add_channel, alert_settings, phone_of
from tests.support.people import person


def run(db, settings, found, clock):
    return alert_round(db, settings, found, PUBLIC_URL, clock=clock)


def stuck(db, clock, count: int, prefix: str = "s") -> list[str]:
    ids = [f"{prefix}{number}CH" for number in range(count)]
    for channel_id in ids:
        add_channel(db, channel_id, clock, status="pending", changed_minutes_ago=120)
    return ids


def unstick(db, ids: list[str], clock) -> None:
    with db.atomic():
        for channel_id in ids:
            db.execute(
                "update channels set status = 'running', status_changed_at = ? where id = ?", [clock.iso(), channel_id]
            )


def every_notice_carried(db) -> bool:
    return not db.execute(
        "select count(*) from alerts where fired_message_id is null"
        " or (state = 'resolved' and resolved_message_id is null)"
    ).fetchone()[0]


def test_the_hourly_cap_sends_a_summary_of_what_it_held_back(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "stuck", max_per_hour=3)
    found = destinations(settings.urls)
    ids = stuck(db, clock, 6)

    report = run(db, settings, found, clock)
    assert report.changes.fired == 6
    titles = sink.titles()
    assert len(titles) == 3
    assert [title.split(":")[0] for title in titles[:2]] == ["Stuck in onboarding"] * 2
    assert titles[2] == "4 more alerts held back (at most 3 messages an hour)"
    summary = sink.messages()[2]["message"]
    assert "4 stuck in onboarding (fired)" in summary
    assert f"Stuck in onboarding: {BUSINESS}, {phone_of(ids[5])}" in summary
    assert f"{PUBLIC_URL}/alerts" in summary
    assert every_notice_carried(db)

    # The hour is full: what happens now waits, and nothing is lost.
    clock.advance(minutes=10)
    unstick(db, ids[:4], clock)
    more = stuck(db, clock, 1, prefix="late")
    report = run(db, settings, found, clock)
    assert (report.changes.fired, report.changes.resolved, report.messages) == (1, 4, [])
    assert len(sink.titles()) == 3
    assert not every_notice_carried(db)
    # A test alert is not counted against the cap.
    [test] = send_test_alert(db, found, settings, actor=person("ops", ADMIN), public_url=PUBLIC_URL, clock=clock)
    assert test.sent
    assert sink.titles()[-1] == "Test alert from the onboarding console"

    # An hour after the first messages, room again: two on their own, then one summary for the rest.
    clock.advance(minutes=51)
    run(db, settings, found, clock)
    latest = sink.titles()[4:]
    assert len(latest) == 3
    assert latest[2] == "3 more alerts held back (at most 3 messages an hour)"
    assert every_notice_carried(db)
    told = " ".join(latest[:2]) + sink.messages()[-1]["message"]
    assert phone_of(more[0]) in told
    assert told.count("Resolved: Stuck in onboarding") == 4
    clock.advance(minutes=61)
    assert run(db, settings, found, clock).messages == []


def test_a_digest_waits_for_its_minutes_then_carries_everything_once(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "stuck", digest_minutes=15)
    found = destinations(settings.urls)
    ids = stuck(db, clock, 3)
    assert run(db, settings, found, clock).changes.fired == 3
    clock.advance(minutes=10)
    unstick(db, ids[:1], clock)
    assert run(db, settings, found, clock).messages == []
    assert sink.messages() == []

    clock.advance(minutes=5)
    run(db, settings, found, clock)
    [digest] = sink.messages()
    assert digest["title"] == "3 alerts in the last 15 min"
    assert "2 stuck in onboarding (fired), 1 stuck in onboarding (fired and resolved)" in digest["message"]
    assert f"Fired and resolved: Stuck in onboarding: {BUSINESS}, {phone_of(ids[0])}" in digest["message"]
    for channel_id in ids:
        assert f"{PUBLIC_URL}/channels?open={channel_id}" in digest["message"]
    assert every_notice_carried(db)

    # A lone piece of news after a digest also waits its 15 minutes, then goes on its own.
    unstick(db, ids[1:2], clock)
    run(db, settings, found, clock)
    clock.advance(minutes=14)
    assert run(db, settings, found, clock).messages == []
    clock.advance(minutes=2)
    run(db, settings, found, clock)
    assert sink.titles()[1] == f"Resolved: Stuck in onboarding: {BUSINESS}, {phone_of(ids[1])}"
    assert len(sink.titles()) == 2


def test_a_condition_that_fires_again_after_resolving_is_a_new_alert(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "revoked")
    found = destinations(settings.urls)
    add_channel(db, "backCH", clock, revoked=1)
    run(db, settings, found, clock)
    for revoked in (0, 1):
        with db.atomic():
            db.execute("update channels set revoked = ? where id = 'backCH'", [revoked])
        run(db, settings, found, clock)
    assert [title.split(":")[0] for title in sink.titles()] == [
        "Permission revoked",
        "Resolved",
        "Permission revoked",
    ]
    assert db.execute("select state from alerts order by id").fetchall() == [("resolved",), ("firing",)]


def test_the_page_reads_rules_and_open_alerts(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "stuck", "revoked")
    found = destinations(settings.urls)
    stuck(db, clock, 2)
    run(db, settings, found, clock)
    states = {state.key: state for state in rule_states(db, settings)}
    assert len(states) == 14
    assert (states["stuck"].on, states["stuck"].firing) == (True, 2)
    assert states["stuck"].threshold == "one stage for over 60 min"
    assert states["stuck"].settings == ("CONSOLE_ALERT_STUCK", "CONSOLE_ALERT_STUCK_MINUTES")
    assert (states["quality_drop"].on, states["quality_drop"].firing) == (False, 0)
    [first, second] = open_alerts(db, PUBLIC_URL)
    assert {first.channel_id, second.channel_id} == {"s0CH", "s1CH"}
    assert first.about == f"{phone_of(first.channel_id)} ({BUSINESS})"
    assert first.link == f"{PUBLIC_URL}/channels?open={first.channel_id}"
    assert first.sent
