"""Each rule fires once and resolves once, end to end: found in the database, sent through apprise's JSON target
to an HTTP sink on loopback (and over SMTP to a local mail server), naming the channel, what happened, what to
do and the link. And the rules read the same facts the Channels page reads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.alerts import rules
from services.alerts.destinations import destinations
from services.alerts.rounds import alert_round
from services.alerts.rules import CRITICAL, RULES, quality_drop_detail, scan_rules
from services.read_models import work_queue as attention
from services.receiver.stats import last_event_at
from tests.alerts.conftest import PUBLIC_URL
from tests.support.alert_conditions import (
    BUSINESS,
    CONDITIONS,
    add_channel,
    add_key,
    alert_settings,
    make_key_stopped,
    phone_of,
)
from tests.support.alert_sinks import smtp_sink
from tests.support.console import console_db


def run(db, settings, found, clock):
    return alert_round(db, settings, found, PUBLIC_URL, clock=clock)


def test_there_is_a_condition_for_every_rule() -> None:
    assert [condition.rule for condition in CONDITIONS] == [rule.key for rule in RULES]


@pytest.mark.processes
@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda condition: condition.rule)
def test_each_rule_fires_once_and_resolves_once(db, sink, sink_url, clock, condition) -> None:
    settings = alert_settings([sink_url], condition.rule)
    found = destinations(settings.urls)
    rule = rules.RULES_BY_KEY[condition.rule]
    channel_id = f"{condition.rule}CH"
    condition.make(db, channel_id, clock)

    report = run(db, settings, found, clock)
    assert (report.changes.fired, report.sent, report.failed) == (1, 1, 0)
    for _ in range(2):
        clock.advance(seconds=30)
        assert run(db, settings, found, clock).changes.fired == 0
    [fired] = sink.messages()
    # The quality condition here is a drop to YELLOW: a warning, where RED would be critical.
    critical = rule.severity == CRITICAL and condition.rule != "quality_drop"
    prefix = "Critical: " if critical else ""
    assert fired["title"].startswith(prefix + rule.title)
    assert fired["type"] == ("failure" if critical else "warning")
    assert f"Severity: {'critical' if critical else 'warning'}" in fired["message"]
    assert "What happened: " in fired["message"]
    assert f"What to do: {rule.todo}" in fired["message"]
    if condition.about_channel:
        assert fired["title"] == f"{prefix}{rule.title}: {BUSINESS}, {phone_of(channel_id)}"
        assert f"Open: {PUBLIC_URL}/channels?open={channel_id}" in fired["message"]
    else:
        assert f"Open: {PUBLIC_URL}/receiver" in fired["message"]

    condition.clear(db, channel_id, clock)
    report = run(db, settings, found, clock)
    assert (report.changes.fired, report.changes.resolved, report.sent) == (0, 1, 1)
    for _ in range(2):
        clock.advance(seconds=30)
        assert run(db, settings, found, clock).changes.resolved == 0
    first, resolved = sink.messages()
    assert first == fired
    assert resolved["title"] == "Resolved: " + fired["title"].removeprefix(prefix)
    assert resolved["type"] == "success"
    assert "Resolved at " in resolved["message"]
    assert db.execute("select count(*), min(state) from alerts").fetchone() == (1, "resolved")


@pytest.mark.processes
def test_every_rule_at_once_by_e_mail_and_json(db, sink, sink_url, clock) -> None:
    with smtp_sink() as (mail, mail_url):
        settings = alert_settings([sink_url, mail_url], max_per_hour=100, heartbeat_hours=1)
        found = destinations(settings.urls)
        assert [destination.label for destination in found][1] == f"mailto://{mail_url.split('/')[2].split('?')[0]}"
        for condition in CONDITIONS:
            condition.make(db, f"{condition.rule}CH", clock)
        report = run(db, settings, found, clock)
        assert report.changes.fired == len(CONDITIONS)
        assert (report.sent, report.failed) == (2 * len(CONDITIONS), 0)
        assert sorted(mail.subjects()) == sorted(sink.titles())
        assert len(set(sink.titles())) == len(CONDITIONS)
        body = mail.text(mail.subjects().index(f"Stuck in onboarding: {BUSINESS}, {phone_of('stuckCH')}"))
        assert "What to do: " in body
        assert f"{PUBLIC_URL}/channels?open=stuckCH" in body

        clock.advance(minutes=1)
        for condition in CONDITIONS:
            condition.clear(db, f"{condition.rule}CH", clock)
        report = run(db, settings, found, clock)
        assert report.changes.resolved == len(CONDITIONS)
        assert len(mail.subjects()) == 2 * len(CONDITIONS)
        assert sum(title.startswith("Resolved: ") for title in sink.titles()) == len(CONDITIONS)
        assert run(db, settings, found, clock).outcomes == []


@pytest.mark.processes
def test_a_rule_turned_off_raises_nothing_and_leaves_its_open_alerts_alone(db, sink, sink_url, clock) -> None:
    settings = alert_settings([sink_url], "stuck")
    found = destinations(settings.urls)
    add_channel(db, "pendingCH", clock, status="pending", changed_minutes_ago=120)
    add_channel(db, "revokedCH", clock, revoked=1)
    run(db, settings, found, clock)
    assert [title.split(":")[0] for title in sink.titles()] == ["Stuck in onboarding"]

    off = replace(settings, stuck=False)
    with db.atomic():
        db.execute("update channels set status = 'running' where id = 'pendingCH'")
    assert run(db, off, found, clock).changes.resolved == 0
    assert db.execute("select state from alerts").fetchall() == [("firing",)]


@pytest.mark.processes
def test_a_rule_that_reads_only_part_of_its_subjects_resolves_nothing(db, sink, sink_url, clock, monkeypatch) -> None:
    settings = alert_settings([sink_url], "revoked")
    found = destinations(settings.urls)
    for number in range(5):
        add_channel(db, f"r{number}CH", clock, revoked=1)
    monkeypatch.setattr(rules, "SCAN_LIMIT", 2)
    assert run(db, settings, found, clock).changes.fired == 2
    first = [row[0] for row in db.execute("select subject from alerts")]
    with db.atomic():
        db.execute(f"update channels set revoked = 0 where id in ('{first[0]}', '{first[1]}')")
    # Three are still revoked, more than it reads: the two that came back may not be resolved yet.
    changes = run(db, settings, found, clock).changes
    assert (changes.fired, changes.resolved) == (2, 0)
    monkeypatch.setattr(rules, "SCAN_LIMIT", 50)
    changes = run(db, settings, found, clock).changes
    assert (changes.fired, changes.resolved) == (1, 2)


def test_the_receiver_refusals_count_per_reason_over_the_threshold(db, clock) -> None:
    settings = alert_settings([], "rejections", rejections_count=3, rejections_minutes=5)
    with db.atomic():
        for number, reason in enumerate(["bad signature"] * 4 + ["body too large"] * 3):
            db["receiver_rejections"].insert({"at": clock.iso(seconds=number), "status": 401, "reason": reason})
        db["receiver_rejections"].insert({"at": clock.iso(minutes=6), "status": 401, "reason": "body too large"})
    [finding] = scan_rules(db, settings, clock.now)["rejections"].findings
    assert finding.subject == "receiver/bad signature"
    assert finding.detail.startswith("4 requests refused in the last 5 min (bad signature)")


def test_no_partner_event_matters_only_while_channels_onboard(db, clock) -> None:
    settings = alert_settings([], "heartbeat", heartbeat_hours=2)
    add_channel(db, "liveCH", clock, status="running")
    assert scan_rules(db, settings, clock.now)["heartbeat"].findings == []
    add_channel(db, "newCH", clock, status="submitted")
    [never] = scan_rules(db, settings, clock.now)["heartbeat"].findings
    assert "no partner event ever" in never.detail
    assert "while 1 channel is onboarding" in never.detail


# -- the same facts as the Channels page --------------------------------------------------------------------


def _channels_for_agreement(db, clock) -> None:
    add_channel(
        db, "dropCH", clock, quality_rating="RED", previous_quality_rating="YELLOW", quality_changed_at=clock.iso()
    )
    add_channel(
        db,
        "limitCH",
        clock,
        messaging_limit="TIER_50",
        previous_messaging_limit="TIER_10K",
        quality_rating="GREEN",
        previous_quality_rating="YELLOW",
        quality_changed_at=clock.iso(),
    )
    add_channel(
        db, "upCH", clock, quality_rating="GREEN", previous_quality_rating="RED", quality_changed_at=clock.iso()
    )
    add_channel(
        db, "oddCH", clock, quality_rating="unknown", previous_quality_rating="GREEN", quality_changed_at=clock.iso()
    )
    add_channel(db, "stuckCH", clock, status="submitted", changed_minutes_ago=90)
    add_channel(db, "freshCH", clock, status="pending", changed_minutes_ago=5)
    add_channel(db, "nokeyCH", clock, status="running", changed_minutes_ago=90)
    add_channel(db, "keyedCH", clock, status="running", changed_minutes_ago=90)
    add_key(db, "keyedCH", clock, step_status="failed")
    add_channel(db, "revokedCH", clock, revoked=1)
    add_channel(db, "leftCH", clock, status="ready", left_running_at=clock.iso(), left_running_to="ready")
    add_channel(db, "backCH", clock, status="running", left_running_at=clock.iso(), left_running_to="ready")
    add_channel(db, "namelessCH", clock, business=None, phone=None)
    make_key_stopped(db, "stoppedCH", clock)
    # A stopped key of a channel that has since ended: its ending says it all.
    make_key_stopped(db, "stoppedEndedCH", clock)
    with db.atomic():
        db.execute("update channels set terminated_at = ? where id = 'stoppedEndedCH'", [clock.iso()])


def test_the_rules_find_what_the_attention_list_shows(db, clock) -> None:
    _channels_for_agreement(db, clock)
    settings = alert_settings([], stuck_minutes=60, no_key_minutes=0)
    scans = scan_rules(db, settings, clock.now)

    def found(rule: str) -> set[str]:
        return {finding.channel_id for finding in scans[rule].findings}

    # Quality per number, the limit per portfolio (here each channel's own): the attention list shows both.
    assert found("quality_drop") == {"dropCH"}
    assert found("limit_drop") == {"limitCH"}
    assert {item.channel_id for item in attention.degraded(db)} == {"dropCH", "limitCH"}
    assert found("stuck") == {item.channel_id for item in attention.stuck(db, 60)} == {"stuckCH"}
    assert found("no_key") == {item.channel_id for item in attention.running_without_key(db)}
    assert found("revoked") == {item.channel_id for item in attention.revoked(db)} == {"revokedCH"}
    assert found("left_running") == {item.channel_id for item in attention.left_running(db)} == {"leftCH"}
    failed_steps = {item.channel_id for item in attention.key_not_ready(db) if "failed" in item.detail}
    assert found("key_chain") == failed_steps == {"keyedCH"}
    assert found("key_stopped") == {item.channel_id for item in attention.key_stopped(db)} == {"stoppedCH"}
    for row in db.query("select * from channels where quality_changed_at is not null"):
        sentence = (attention.quality_drop(row) or "").split("; ")
        assert quality_drop_detail(row) == next((part for part in sentence if part.startswith("quality")), "")


def test_the_last_event_time_is_the_consoles_own(db, clock) -> None:
    _channels_for_agreement(db, clock)
    assert rules.last_event_at(db) == last_event_at(db)


@pytest.mark.processes
@pytest.mark.parametrize("rating", ["RED", "FLAGGED", " red "])
def test_a_first_known_red_or_flagged_rating_is_an_attention_reason_and_a_critical_alert(
    db, sink, sink_url, clock, rating
) -> None:
    add_channel(db, "firstCH", clock)
    add_channel(db, "greenCH", clock)
    with db.atomic():
        # No earlier rating: no drop, but a number that needs someone all the same.
        db.execute("update channels set quality_rating = ? where id = 'firstCH'", [rating])
        db.execute("update channels set quality_rating = 'GREEN' where id = 'greenCH'")
    shown = rating.strip().upper()

    reasons = {(item.channel_id, item.reason, item.detail) for item in attention.degraded(db)}
    assert reasons == {("firstCH", "quality RED or FLAGGED", f"quality is {shown} (no earlier rating known)")}
    channel = db["channels"].get("firstCH")
    assert attention.quality_trouble(channel) == f"quality is {shown} (no earlier rating known)"
    assert attention.quality_trouble(db["channels"].get("greenCH")) is None

    settings = alert_settings([sink_url], "quality_drop")
    [finding] = scan_rules(db, settings, clock())["quality_drop"].findings
    assert (finding.subject, finding.severity) == ("firstCH", CRITICAL)
    report = run(db, settings, destinations(settings.urls), clock)
    assert (report.changes.fired, report.sent) == (1, 1)
    [message] = sink.messages()
    assert message["title"] == f"Critical: Quality dropped or low: {BUSINESS}, {phone_of('firstCH')}"
    assert f"quality is {shown} (no earlier rating known)" in message["message"]


def _ready_channels(db, clock, count: int) -> None:
    """`count` running channels, each with an active key made ready: nothing for the key rules to find."""
    for index in range(count):
        add_channel(db, f"ready{index}CH", clock)
        add_key(db, f"ready{index}CH", clock, step_status="ok")


def _scan_steps(db, clock, rule: str) -> tuple[set[str], int]:
    """What `rule` finds, and SQLite's virtual machine steps (in hundreds) its scan takes."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    settings = alert_settings([], rule, no_key_minutes=0)
    db.conn.set_progress_handler(count, 100)
    try:
        scan = rules.RULES_BY_KEY[rule].find(db, settings, clock.now)
    finally:
        db.conn.set_progress_handler(None, 100)
    return {finding.channel_id for finding in scan.findings}, steps[0]


@pytest.mark.parametrize("rule", ["no_key", "key_chain"])
def test_the_key_rules_read_the_lists_kept_for_them_not_every_channel(tmp_path, clock, rule) -> None:
    # At 100,000 channels, asking every running channel for its key took about 400 ms a round, and every active
    # key for its steps about 115 ms: the work queue reads the same lists (services.migrations, m032).
    scans = []
    for ready in (20, 400):
        with console_db(tmp_path / f"{ready}.db") as db:
            _ready_channels(db, clock, ready)
            next(condition for condition in CONDITIONS if condition.rule == rule).make(db, "attentionCH", clock)
            scans.append(_scan_steps(db, clock, rule))
    (found_few, steps_few), (found_many, steps_many) = scans
    assert found_few == found_many == {"attentionCH"}
    assert steps_many <= steps_few + 1, (steps_few, steps_many)
