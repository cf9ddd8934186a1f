"""Key health, all the time: rounds over every open active key, spread over the interval and held to a budget, a
lease so no key is asked twice at once, and what a 401/403, a failed check or a LIMITED number leaves behind
(work queue, timeline, one alert). Real SQLite files, a Messaging API stub on loopback HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from services.accounts import VIEWER, NotAllowed
from services.alerts.ledger import record_scans
from services.alerts.rules import scan_rules
from services.channels.projection import upsert_channel
from services.keys.health.checks import (
    STOPPED,
    STOPPED_MEANING,
    HealthConfig,
    check_channel_key,
    check_now,
    claim_due,
    enrol_keys,
    run_round,
    spread_offset,
)
from services.keys.health.reading import HealthRound, channel_key_health, last_round, verdict_counts
from services.keys.key_status import key_status
from services.keys.readiness import KeyNotReady
from services.keys.vault import KeyVault
from services.read_models.channel_list import ChannelFilter, page_channels
from services.read_models.channel_timeline import channel_timeline
from services.read_models.work_queue import key_stopped, needs_attention
from services.settings import AlertSettings
from services.store import open_console_db
from tests.support import FIXTURES
from tests.support.messaging_stub import Answer, MessagingStub, messaging_stub
from tests.support.people import person

pytestmark = pytest.mark.processes  # the Messaging API stub on uvicorn

RECORDED = json.loads((FIXTURES / "360dialog" / "key_health_answers.json").read_text())
MESSAGING = json.loads((FIXTURES / "360dialog" / "messaging_answers.json").read_text())
HOUR = 3600.0
START = 1_800_000_000.0  # a fixed now, in unix seconds, that the tests move by hand


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault(Fernet.generate_key().decode())


@pytest.fixture
def stub() -> Iterator[MessagingStub]:
    with messaging_stub() as found:
        yield found


def config(**extra: object) -> HealthConfig:
    return HealthConfig(**{"interval_seconds": HOUR, "budget": 50, "timeout": 2.0, "demo_mode": True, **extra})


def key_of(channel_id: str) -> str:
    return f"Rk5{channel_id}SecretKeyValue9876"


def add_keyed_channel(db, vault: KeyVault, stub: MessagingStub, channel_id: str, **channel: object) -> int:
    """A running channel with an active key whose Messaging API is the stub."""
    with db.atomic():
        upsert_channel(
            db,
            channel_id,
            {"status": "running", "client_id": "cliB", "phone_number": f"+49 151 {channel_id}", **channel},
            source="test",
        )
        return int(
            db["api_keys"]
            .insert(
                {
                    "channel_id": channel_id,
                    "operator": "ana",
                    "created_at": "2026-11-30T10:00:00",
                    "outcome": "ok",
                    "status": "active",
                    "address": stub.url,
                    "key_encrypted": vault.seal(key_of(channel_id)),
                    "key_last4": key_of(channel_id)[-4:],
                }
            )
            .last_pk
        )


def all_due(db) -> None:
    with db.atomic():
        db.execute("update key_health set due_at = 0")


def round_now(db, vault, clock: Clock, **extra: object):
    enrol_keys(db, HOUR, clock())
    all_due(db)
    return run_round(db, vault, config(**extra), clock=clock)


def alerts_after_rounds(db, rounds: int, run) -> list[tuple]:
    settings = AlertSettings()
    for _ in range(rounds):
        run()
        record_scans(db, scan_rules(db, settings, datetime.now(UTC)), datetime.now(UTC))
    return db.execute("select rule, subject, state from alerts where rule = 'key_stopped' order by id").fetchall()


# -- rounds ---------------------------------------------------------------------------------------------------


def test_a_round_asks_about_every_open_active_key_and_no_other(db, vault, stub) -> None:
    for channel_id in ("okA1", "okB2", "okC3"):
        add_keyed_channel(db, vault, stub, channel_id)
    replaced = add_keyed_channel(db, vault, stub, "oldD4")
    add_keyed_channel(db, vault, stub, "revokedE5", revoked=1)
    add_keyed_channel(db, vault, stub, "endedF6", terminated_at="2026-12-01T00:00:00Z")
    with db.atomic():
        db.execute("update api_keys set status = 'revoked' where id = ?", [replaced])

    report = round_now(db, vault, Clock())

    assert sorted(stub.calls) == sorted(key_of(channel_id) for channel_id in ("okA1", "okB2", "okC3"))
    assert set(stub.calls.values()) == {1}
    assert (report.checked, report.stopped, report.could_not_check, report.still_due) == (3, 0, 0, 0)
    assert channel_key_health(db, "okA1").status == "ok"
    assert "can send messages: AVAILABLE" in channel_key_health(db, "okA1").detail
    assert channel_key_health(db, "revokedE5") is None
    assert last_round(db).checked == 3
    assert verdict_counts(db)["ok"] == 3


def test_the_round_read_back_is_the_report_without_the_changes(db, vault, stub) -> None:
    add_keyed_channel(db, vault, stub, "readA1")
    report = round_now(db, vault, Clock())
    assert isinstance(report, HealthRound)
    assert last_round(db) == HealthRound(
        **{column.name: getattr(report, column.name) for column in fields(HealthRound)}
    )


def test_first_checks_spread_over_the_interval_and_a_round_keeps_to_its_budget(db, vault, stub) -> None:
    with db.atomic():
        upsert_channel(db, "manyCH", {"status": "running"}, source="test")
        db["api_keys"].insert_all(
            {"channel_id": "manyCH", "operator": "ana", "created_at": "2026-11-30", "outcome": "ok", "status": "active"}
            for _ in range(2000)
        )
    # One channel's keys are not all active in life; for the spread only the ids matter.
    assert enrol_keys(db, HOUR, START) == 2000
    offsets = sorted(row[0] - START for row in db.execute("select due_at from key_health"))
    assert offsets[0] >= 0
    assert offsets[-1] < HOUR
    assert offsets[-1] - offsets[0] > 0.99 * HOUR
    buckets = [0] * 60  # a minute each
    for offset in offsets:
        buckets[int(offset // 60)] += 1
    assert max(buckets) <= 2 * 2000 / 60  # no minute holds more than twice its share
    assert enrol_keys(db, HOUR, START + 5) == 0  # stable: enrolled once, never moved again
    for key_id, due in db.execute("select key_id, due_at from key_health limit 5"):
        assert due == pytest.approx(START + spread_offset(key_id, HOUR))

    due_in_ten_minutes = sum(1 for offset in offsets if offset <= 600)
    leased = claim_due(db, "round-1", START + 600, 25, 60)
    assert len(leased) == 25 < due_in_ten_minutes
    # The longest due first: every key leased was due no later than any key left.
    leased_due = [row[0] for row in db.execute("select due_at from key_health where lease_holder = 'round-1'")]
    left_due = [row[0] for row in db.execute("select due_at from key_health where lease_holder is null")]
    assert max(leased_due) <= min(left_due)


def test_a_round_checks_at_most_its_budget_and_says_how_many_are_still_due(db, vault, stub) -> None:
    for number in range(7):
        add_keyed_channel(db, vault, stub, f"bud{number}")
    clock = Clock()
    report = round_now(db, vault, clock, budget=3)
    assert (report.checked, report.still_due) == (3, 4)
    assert sum(stub.calls.values()) == 3
    report = run_round(db, vault, config(budget=3), clock=clock)
    assert (report.checked, report.still_due) == (3, 1)
    report = run_round(db, vault, config(budget=3), clock=clock)
    assert (report.checked, report.still_due) == (1, 0)
    # Each once; the next checks are an interval later.
    assert set(stub.calls.values()) == {1}
    assert len(stub.calls) == 7
    assert run_round(db, vault, config(budget=3), clock=clock).checked == 0
    clock.now += HOUR
    assert run_round(db, vault, config(budget=10), clock=clock).checked == 7


def test_two_checkers_at_once_ask_about_each_key_once(db_path, db, vault, stub) -> None:
    for number in range(12):
        add_keyed_channel(db, vault, stub, f"lease{number}")
        stub.answer(key_of(f"lease{number}"), Answer(delay=0.2))
    enrol_keys(db, HOUR, START)
    all_due(db)
    reports = []

    def checker(name: str) -> None:
        connection = open_console_db(db_path)
        try:
            reports.append(run_round(connection, vault, config(budget=12), holder=name, clock=Clock()))
        finally:
            connection.close()

    threads = [threading.Thread(target=checker, args=(f"checker-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(stub.calls) == 12
    assert set(stub.calls.values()) == {1}
    assert set(stub.most_at_once.values()) == {1}
    assert sum(report.checked for report in reports) == 12


def test_a_manual_check_waits_for_a_round_that_holds_the_key(db, vault, stub) -> None:
    key_id = add_keyed_channel(db, vault, stub, "manualCH")
    enrol_keys(db, HOUR, START)
    all_due(db)
    [held] = claim_due(db, "a-round", START, 10, 60)
    assert held["key_id"] == key_id
    assert check_now(db, vault, config(), key_id, clock=Clock()) is None
    assert stub.calls == {}
    # Once the round's lease runs out, the check goes ahead.
    assert check_now(db, vault, config(), key_id, clock=Clock(START + 61)).status == "ok"
    assert stub.calls[key_of("manualCH")] == 1


# -- what a refusal leaves behind ------------------------------------------------------------------------------


@pytest.mark.parametrize("recorded", RECORDED["health_status_refusals"], ids=lambda recorded: recorded["name"])
def test_a_401_or_403_means_the_key_stopped_working(db, vault, stub, recorded) -> None:
    add_keyed_channel(db, vault, stub, "stopCH", phone_name="Stop Cafe")
    stub.answer(key_of("stopCH"), Answer(recorded["status"], recorded["body"]))

    report = round_now(db, vault, Clock())

    assert (report.checked, report.stopped) == (1, 1)
    health = channel_key_health(db, "stopCH")
    assert health.status == recorded["expect"] == STOPPED
    assert f"360dialog refused the key ending 9876 ({recorded['status']})" in health.detail
    assert recorded["reason"] in health.detail
    assert STOPPED_MEANING in health.detail
    assert "newer key" not in health.detail
    [item] = key_stopped(db)
    assert item.reason == "key stopped working"
    assert item.detail.endswith("Generate a new key for +49 151 stopCH")
    assert item in needs_attention(db, stuck_after_minutes=60)
    [entry] = [entry for entry in channel_timeline(db, "stopCH") if entry.what == "key stopped working"]
    assert entry.who == "key health"
    assert STOPPED_MEANING in entry.detail
    assert key_of("stopCH") not in json.dumps([health.detail, item.detail, entry.detail])
    # The channel list's key column and its Key filter say it too, not "active".
    assert key_status(db, "stopCH") == "stopped"
    assert [row["id"] for row in page_channels(db, ChannelFilter(key_status="stopped"))] == ["stopCH"]


def test_a_stopped_key_alerts_exactly_once_over_many_rounds_and_a_new_key_resolves_it(db, vault, stub) -> None:
    add_keyed_channel(db, vault, stub, "onceCH")
    recorded = RECORDED["health_status_refusals"][0]
    stub.answer(key_of("onceCH"), Answer(recorded["status"], recorded["body"]))
    clock = Clock()

    def next_round() -> None:
        clock.now += HOUR
        round_now(db, vault, clock)

    assert alerts_after_rounds(db, 4, next_round) == [("key_stopped", f"key/{_active_key(db, 'onceCH')}", "firing")]
    assert stub.calls[key_of("onceCH")] == 4
    timeline = [entry.what for entry in channel_timeline(db, "onceCH")]
    assert timeline.count("key stopped working") == 1

    # A new key for the channel (generation revokes the old one): only the active key counts.
    with db.atomic():
        db.execute("update api_keys set status = 'revoked' where channel_id = 'onceCH'")
    add_keyed_channel(db, vault, stub, "onceCH")
    stub.answer(key_of("onceCH"), Answer())
    assert key_stopped(db) == []
    [alert] = alerts_after_rounds(db, 2, next_round)
    assert alert[2] == "resolved"
    assert channel_key_health(db, "onceCH").status == "ok"


def _active_key(db, channel_id: str) -> int:
    return db.execute("select id from api_keys where channel_id = ? and status = 'active'", [channel_id]).fetchone()[0]


# -- checks that could not be made -----------------------------------------------------------------------------


@pytest.mark.parametrize("recorded", RECORDED["health_status_failures"], ids=lambda recorded: recorded["name"])
def test_a_failed_check_is_could_not_check_never_stopped(db, vault, stub, recorded) -> None:
    add_keyed_channel(db, vault, stub, "flakyCH")
    clock = Clock()
    round_now(db, vault, clock)  # a first verdict: working
    stub.answer(key_of("flakyCH"), Answer(recorded["status"], recorded["body"], headers=recorded.get("headers", {})))
    clock.now += HOUR

    report = round_now(db, vault, clock)

    assert (report.checked, report.stopped, report.could_not_check) == (1, 0, 1)
    assert stub.calls[key_of("flakyCH")] == 2  # one attempt a round: the next round is the retry
    health = channel_key_health(db, "flakyCH")
    assert health.status == "ok"  # the last verdict stands
    assert health.problem
    assert str(recorded["status"]) in health.problem
    assert key_stopped(db) == []
    assert alerts_after_rounds(db, 1, lambda: None) == []
    assert [entry.what for entry in channel_timeline(db, "flakyCH") if "key" in entry.what] == []
    due = db.execute("select due_at from key_health").fetchone()[0]
    assert due - clock.now == pytest.approx(max(30.0, recorded.get("retry_after", 0)))


def test_a_timeout_or_a_refused_connection_is_could_not_check(db, vault, stub) -> None:
    add_keyed_channel(db, vault, stub, "slowCH")
    stub.answer(key_of("slowCH"), Answer(delay=1.5))
    with db.atomic():
        upsert_channel(db, "goneCH", {"status": "running"}, source="test")
        db["api_keys"].insert(
            {
                "channel_id": "goneCH",
                "operator": "ana",
                "created_at": "2026-11-30",
                "outcome": "ok",
                "status": "active",
                "address": "http://127.0.0.1:9",  # nothing listens on the discard port
                "key_encrypted": vault.seal("Rk5goneKey0123456789"),
                "key_last4": "6789",
            }
        )
    clock = Clock()
    report = round_now(db, vault, clock, timeout=0.5)
    assert (report.checked, report.could_not_check, report.stopped) == (2, 2, 0)
    assert "did not answer within 0.5 s" in channel_key_health(db, "slowCH").problem
    assert "Cannot reach the Messaging API" in channel_key_health(db, "goneCH").problem
    assert channel_key_health(db, "slowCH").status == "unchecked"
    # Failing again waits longer, never longer than the interval.
    first = db.execute("select due_at from key_health where channel_id = 'goneCH'").fetchone()[0] - clock.now
    clock.now += first
    run_round(db, vault, config(timeout=0.5), clock=clock)
    second = db.execute("select due_at from key_health where channel_id = 'goneCH'").fetchone()[0] - clock.now
    assert (first, second) == (30.0, 60.0)


# -- Meta's limits on sending ------------------------------------------------------------------------------------


def test_limited_is_recorded_when_it_changes_and_back_to_ok_once(db, vault, stub) -> None:
    add_keyed_channel(db, vault, stub, "limCH")
    limited = next(r for r in MESSAGING["health_status"] if r["expect"]["can_send_message"] == "LIMITED")
    clock = Clock()
    round_now(db, vault, clock)
    stub.answer(key_of("limCH"), Answer(body=limited["body"]))
    for _ in range(3):
        clock.now += HOUR
        round_now(db, vault, clock)
    assert channel_key_health(db, "limCH").status == "limited"
    stub.answer(key_of("limCH"), Answer())
    for _ in range(2):
        clock.now += HOUR
        round_now(db, vault, clock)
    whats = [entry.what for entry in channel_timeline(db, "limCH") if entry.who == "key health"]
    assert whats == ["key health back to ok", "key health: Meta limits sending"]
    assert key_stopped(db) == []
    assert alerts_after_rounds(db, 1, lambda: None) == []


def test_a_key_that_cannot_be_decrypted_is_could_not_check(db, vault, stub) -> None:
    add_keyed_channel(db, vault, stub, "rotCH")
    other = KeyVault(Fernet.generate_key().decode())
    report = round_now(db, other, Clock())
    assert (report.could_not_check, report.stopped) == (1, 0)
    assert "CONSOLE_ENCRYPTION_KEY" in channel_key_health(db, "rotCH").problem
    assert stub.calls == {}


# -- an operator's check, now -------------------------------------------------------------------------------------


def test_an_operators_check_is_audited_respects_roles_and_the_lease(db, vault, stub) -> None:
    add_keyed_channel(db, vault, stub, "opCH")
    add_keyed_channel(db, vault, stub, "otherCH")
    recorded = RECORDED["health_status_refusals"][0]
    stub.answer(key_of("opCH"), Answer(recorded["status"], recorded["body"]))

    with pytest.raises(NotAllowed):
        check_channel_key(db, vault, config(), "opCH", actor=person("vic", VIEWER))
    assert stub.calls == {}
    with pytest.raises(KeyNotReady):
        check_channel_key(db, vault, config(), "noSuchCH", actor=person("ana"))

    outcome = check_channel_key(db, vault, config(), "opCH", actor=person("ana"), clock=Clock())

    assert outcome.status == STOPPED
    assert channel_key_health(db, "opCH").status == STOPPED
    # Only the key asked about is followed from now; the others keep their own point of the interval.
    assert db.execute("select channel_id from key_health").fetchall() == [("opCH",)]
    audited = db.execute("select operator, action, outcome from audit where channel_id = 'opCH' order by id").fetchall()
    assert audited == [("vic", "prepare_key", "refused"), ("key health", "key_health", "stopped"),
                       ("ana", "check_key_health", "stopped")]  # fmt: skip
    assert "key health check: stopped" in [entry.what for entry in channel_timeline(db, "opCH")]
    # While a round holds the key's lease, an operator's check waits its turn.
    with db.atomic():
        db.execute("update key_health set due_at = 0")
    claim_due(db, "a-round", START + 10, 10, 60)
    assert check_channel_key(db, vault, config(), "opCH", actor=person("ana"), clock=Clock(START + 20)) is None
    assert stub.calls[key_of("opCH")] == 1
