"""Sane volume, over real HTTP to a sink: one alert per subject and condition until it resolves, a cap per hour
with one summary of what it held back, a digest every N minutes, and no news lost or sent twice on the way."""

from __future__ import annotations

import pytest

from services.accounts import ADMIN, OPERATOR, VIEWER, NotAllowed
from services.alerts.delivery import send_test_alert
from services.alerts.destinations import destinations
from services.alerts.handling import AlertNotFiring, acknowledge, snooze
from services.alerts.ledger import held_news, open_alerts, rule_states
from services.alerts.rounds import alert_round
from tests.alerts.conftest import PUBLIC_URL
from tests.support.alert_conditions import BUSINESS, CONDITIONS, add_channel, alert_settings, phone_of
from tests.support.people import person

pytestmark = pytest.mark.processes  # the alert sinks (HTTP on uvicorn, SMTP) on loopback

CONDITIONS_BY_RULE = {condition.rule: condition for condition in CONDITIONS}


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


WARNING_RULES = ("left_running", "stuck", "no_key", "key_chain")


def make(db, clock, rule: str, channel_id: str | None = None) -> str:
    channel_id = channel_id or f"{rule}CH"
    CONDITIONS_BY_RULE[rule].make(db, channel_id, clock)
    return channel_id


def test_the_hourly_cap_sends_a_summary_of_what_it_held_back(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], *WARNING_RULES, max_per_hour=3)
    found = destinations(settings.urls)
    ids = stuck(db, clock, 6)
    for rule in ("left_running", "no_key", "key_chain"):
        make(db, clock, rule)

    report = run(db, settings, found, clock)
    assert report.changes.fired == 9
    titles = sink.titles()
    assert len(titles) == 3
    assert titles[0].startswith("Channel left running: ")
    assert titles[1].startswith("6 numbers stuck in onboarding: ")
    assert titles[2] == "2 more alerts held back (at most 3 messages an hour)"
    summary = sink.messages()[2]["message"]
    assert "1 running without a key (fired), 1 key not ready: a step failed (fired)" in summary
    assert f"{PUBLIC_URL}/alerts" in summary
    assert every_notice_carried(db)

    # The hour is full: what happens now waits, says until when, and nothing is lost.
    clock.advance(minutes=10)
    unstick(db, ids[:4], clock)
    more = stuck(db, clock, 1, prefix="late")
    report = run(db, settings, found, clock)
    assert (report.changes.fired, report.changes.resolved, report.messages) == (1, 4, [])
    assert len(sink.titles()) == 3
    assert not every_notice_carried(db)
    held = held_news(db, settings, clock())
    assert (held.alerts, held.resolutions, held.reason) == (1, 4, "the hourly cap")
    assert held.until == clock.iso(minutes=10 - 60)
    # A test alert is not counted against the cap.
    [test] = send_test_alert(db, found, settings, actor=person("ops", ADMIN), public_url=PUBLIC_URL, clock=clock)
    assert test.sent
    assert sink.titles()[-1] == "Test alert from the onboarding console"

    # An hour after the first messages, room again: the new one on its own, the four resolutions as one.
    clock.advance(minutes=51)
    run(db, settings, found, clock)
    latest = sink.titles()[4:]
    assert latest[0] == (
        "Resolved: 4 numbers stuck in onboarding: "
        + "; ".join(f"{BUSINESS}, {phone_of(channel_id)}" for channel_id in ids[:3])
        + " and 1 more"
    )
    # The left-running channel has now waited past the stuck threshold too: both go as one message.
    assert len(latest) == 2
    assert "stuck in onboarding: " in latest[1]
    assert phone_of(more[0]) in latest[1]
    assert every_notice_carried(db)
    assert held_news(db, settings, clock()) is None
    clock.advance(minutes=61)
    before = sink.titles()
    run(db, settings, found, clock)
    assert not set(sink.titles()[len(before) :]) & set(before)


def test_many_alerts_of_one_rule_go_as_one_message_naming_them_and_so_do_their_resolutions(
    db, sink, sink_url, clock
) -> None:
    settings = alert_settings([sink_url], "stuck")
    found = destinations(settings.urls)
    ids = stuck(db, clock, 22)
    report = run(db, settings, found, clock)
    assert (report.changes.fired, len(report.messages), report.sent) == (22, 1, 1)
    [message] = sink.messages()
    first = [f"{BUSINESS}, {phone_of(channel_id)}" for channel_id in ids[:3]]
    assert message["title"] == f"22 numbers stuck in onboarding: {'; '.join(first)} and 19 more"
    assert message["type"] == "warning"
    body = message["message"]
    assert "Severity: 22 warning" in body
    for channel_id in ids[:20]:
        assert f"{PUBLIC_URL}/channels?open={channel_id}" in body
    assert "- and 2 more" in body
    assert "What to do: The client may not have finished signing up" in body

    clock.advance(minutes=5)
    unstick(db, ids, clock)
    report = run(db, settings, found, clock)
    assert (report.changes.resolved, len(report.messages), report.sent) == (22, 1, 1)
    resolved = sink.messages()[1]
    assert resolved["title"].startswith("Resolved: 22 numbers stuck in onboarding: ")
    assert resolved["type"] == "success"
    assert every_notice_carried(db)


def red_number(db, clock, channel_id: str = "redCH", *, previous: str | None = None) -> str:
    """A number whose quality is RED: with no earlier rating (its first known), or after `previous`."""
    add_channel(db, channel_id, clock)
    with db.atomic():
        db.execute(
            "update channels set quality_rating = 'RED', previous_quality_rating = ?, quality_changed_at = ?"
            " where id = ?",
            [previous, clock.iso() if previous else None, channel_id],
        )
    return channel_id


@pytest.mark.parametrize("previous", [None, "GREEN"], ids=["first-known-red", "green-to-red"])
@pytest.mark.parametrize("holding", ["cap", "digest"])
def test_after_a_burst_a_red_number_alerts_at_once_whatever_the_cap_and_the_digest(
    db, sink, sink_url, clock, holding, previous
) -> None:
    extra = {"max_per_hour": 3} if holding == "cap" else {"max_per_hour": 100, "digest_minutes": 30}
    settings = alert_settings([sink_url], "quality_drop", *WARNING_RULES, **extra)
    found = destinations(settings.urls)
    # A burst: 30 stuck numbers and one of each other warning, filling the hour's cap (or waiting for the digest).
    stuck(db, clock, 30)
    for rule in ("left_running", "no_key", "key_chain"):
        make(db, clock, rule)
    run(db, settings, found, clock)
    burst = len(sink.titles())
    assert burst == (3 if holding == "cap" else 0)

    clock.advance(minutes=6)
    channel_id = red_number(db, clock, previous=previous)
    report = run(db, settings, found, clock)
    assert (report.changes.fired, report.sent) == (1, 1)
    red = sink.messages()[burst]
    assert red["title"] == f"Critical: Quality dropped or low: {BUSINESS}, {phone_of(channel_id)}"
    assert red["type"] == "failure"
    assert "Severity: critical" in red["message"]
    happened = "quality fell from GREEN to RED" if previous else "quality is RED (no earlier rating known)"
    assert f"What happened: {happened}" in red["message"]
    [shown] = [alert for alert in open_alerts(db, PUBLIC_URL) if alert.channel_id == channel_id]
    assert (shown.severity, shown.sent) == ("critical", True)
    # Listed first on the page, above the earlier warnings.
    assert open_alerts(db, PUBLIC_URL)[0].channel_id == channel_id


def test_a_snoozed_alert_stays_quiet_until_its_time_or_a_worse_change(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "quality_drop")
    found = destinations(settings.urls)
    make(db, clock, "quality_drop", "yellowCH")
    run(db, settings, found, clock)
    [yellow] = sink.messages()
    assert yellow["title"] == f"Quality dropped or low: {BUSINESS}, {phone_of('yellowCH')}"
    [alert] = open_alerts(db, PUBLIC_URL)
    assert alert.severity == "warning"
    until = snooze(db, alert.id, 4, actor=person("olga", OPERATOR), clock=clock)
    assert until == clock.iso(hours=-4)
    acknowledge(db, alert.id, actor=person("olga", OPERATOR), clock=clock)
    [alert] = open_alerts(db, PUBLIC_URL)
    assert (alert.snoozed_until, alert.acked_by, alert.told) == (
        until,
        "olga",
        f"snoozed until {until[:16].replace('T', ' ')} UTC",
    )

    # Its time comes while it still holds: told again.
    clock.advance(hours=4, seconds=1)
    run(db, settings, found, clock)
    assert sink.titles()[1] == yellow["title"]

    # Snoozed again, then it gets worse (YELLOW to RED): told at once as critical, snooze and acknowledgment gone.
    snooze(db, alert.id, 24, actor=person("olga", OPERATOR), clock=clock)
    clock.advance(minutes=5)
    run(db, settings, found, clock)
    assert len(sink.titles()) == 2
    with db.atomic():
        db.execute(
            "update channels set quality_rating = 'RED', previous_quality_rating = 'YELLOW', quality_changed_at = ?"
            " where id = 'yellowCH'",
            [clock.iso()],
        )
    report = run(db, settings, found, clock)
    assert (report.changes.fired, report.changes.worsened, report.sent) == (0, 1, 1)
    worse = sink.messages()[2]
    assert worse["title"] == f"Critical, worse: Quality dropped or low: {BUSINESS}, {phone_of('yellowCH')}"
    assert "quality fell from YELLOW to RED" in worse["message"]
    [alert] = open_alerts(db, PUBLIC_URL)
    assert (alert.severity, alert.snoozed_until, alert.acked_by, alert.told) == ("critical", None, None, "yes")
    # The same RED the next round is no news.
    clock.advance(minutes=1)
    assert run(db, settings, found, clock).changes.worsened == 0
    assert len(sink.titles()) == 3
    audited = [row["action"] for row in db.query("select action from audit where operator = 'olga' order by id")]
    assert audited == ["snooze_alert", "acknowledge_alert", "snooze_alert"]


def test_acknowledging_and_snoozing_are_refused_to_a_viewer_and_audited(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "stuck")
    stuck(db, clock, 1)
    run(db, settings, destinations(settings.urls), clock)
    [alert] = open_alerts(db, PUBLIC_URL)
    with pytest.raises(NotAllowed):
        acknowledge(db, alert.id, actor=person("vic", VIEWER), clock=clock)
    with pytest.raises(ValueError, match="at most 168 hours"):
        snooze(db, alert.id, 1000, actor=person("olga", OPERATOR), clock=clock)
    unstick(db, ["s0CH"], clock)
    run(db, settings, destinations(settings.urls), clock)
    with pytest.raises(AlertNotFiring, match="no longer firing"):
        snooze(db, alert.id, 1, actor=person("olga", OPERATOR), clock=clock)
    rows = [(row["operator"], row["action"], row["outcome"]) for row in db.query("select * from audit order by id")]
    assert rows == [("vic", "handle_alert", "refused")]


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
    assert [title.split(":")[0] for title in sink.titles()] == ["Critical", "Resolved", "Critical"]
    assert [title.split(": ")[1] for title in sink.titles()] == ["Permission revoked"] * 3
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


def test_each_handling_is_audited_naming_the_alert_and_its_channel(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "quality_drop")
    make(db, clock, "quality_drop", "namedCH")
    run(db, settings, destinations(settings.urls), clock)
    [alert] = open_alerts(db, PUBLIC_URL)
    until = snooze(db, alert.id, 2.5, actor=person("olga", OPERATOR), clock=clock)
    acknowledge(db, alert.id, actor=person("olga", OPERATOR), clock=clock)
    described = f"alert #{alert.id} (Quality dropped or low, {alert.subject})"
    rows = [
        (row["action"], row["outcome"], row["channel_id"], row["detail"])
        for row in db.query("select * from audit where operator = 'olga' order by id")
    ]
    assert rows == [
        ("snooze_alert", "ok", "namedCH", f"snoozed {described} for 2.5 h, until {until[:16].replace('T', ' ')} UTC"),
        ("acknowledge_alert", "ok", "namedCH", f"acknowledged {described}"),
    ]
