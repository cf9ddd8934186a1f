"""The work queue's account alerts and template problems keep what they read of the events until such an event
arrives or leaves the window, and say the same as reading everything afresh would."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from services.channels.account_alerts import ALERT_WINDOW_DAYS, recent_channel_alerts
from services.channels.projection import upsert_channel
from services.channels.templates import template_problems
from services.events.webhook import ACCOUNT_ALERT_NAMES, normalise_event
from tests.support.events import save_event

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
# The grouping per channel as the work queue read it before (one statement joining every alert of the window to
# its channel): the reference the kept read must agree with.
_TYPES = ", ".join("?" for _ in ACCOUNT_ALERT_NAMES)
AFRESH_SQL = f"""
    select channel_id, event_type, received_at, event_id from (
        select channels.id as channel_id, events.event_type, max(events.received_at) as received_at,
               events.id as event_id
        from events join channels on channels.phone_digits = events.phone_digits
        where events.event_type in ({_TYPES}) and events.received_at >= ?
        group by channels.id, events.event_type
    ) order by received_at desc, channel_id limit ?
"""


def _save(db: Database, body: dict, at: datetime) -> None:
    with db.atomic():
        save_event(db, normalise_event(body), headers={}, verdict="valid", received_at=at.isoformat())


def _alert(db: Database, number: str, at: datetime, kind: str = "account_violation") -> None:
    _save(db, {"event": kind, "id": f"a{random.random()}", "data": {"phone_number": number}}, at)


def _channel(db: Database, channel_id: str, number: str, **fields: object) -> None:
    with db.atomic():
        upsert_channel(db, channel_id, {"status": "running", "phone_number": number, **fields}, source="test")


def _afresh(db: Database, limit: int) -> list[tuple]:
    since = (NOW - timedelta(days=ALERT_WINDOW_DAYS)).isoformat(timespec="microseconds")
    return db.execute(AFRESH_SQL, [*ACCOUNT_ALERT_NAMES, since, limit]).fetchall()


def _kept(db: Database, limit: int) -> list[tuple]:
    return [
        (alert.channel_id, alert.event_type, alert.received_at, alert.event_id)
        for alert in recent_channel_alerts(db, limit, now=NOW)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kept_alerts_are_what_reading_afresh_finds(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    numbers = [f"+49 151 {n:07d}" for n in range(400)]
    for index, number in enumerate(numbers[:300]):
        _channel(db, f"ch{index}", number)
    _channel(db, "twinCH", numbers[7])  # two channels with one number both get its alert
    for _ in range(900):
        at = NOW - timedelta(days=rng.uniform(0, 40), seconds=rng.randrange(3))
        _alert(db, rng.choice(numbers), at.replace(microsecond=0), rng.choice(ACCOUNT_ALERT_NAMES))
    _alert(db, numbers[350], NOW - timedelta(days=2))  # a number no channel has yet
    for limit in (1, 50, 250, 1000):
        assert _kept(db, limit) == _afresh(db, limit), limit
    _channel(db, "lateCH", numbers[350])  # a channel learnt after its alerts finds them at the next read
    assert _kept(db, 1000) == _afresh(db, 1000)
    assert "lateCH" in {row[0] for row in _kept(db, 1000)}


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    yield seen
    db.conn.set_trace_callback(None)


def test_alerts_are_read_again_only_when_one_arrives_or_leaves_the_window(db: Database, statements) -> None:
    _channel(db, "shopCH", "+49 151 0000001")
    _alert(db, "491510000001", NOW - timedelta(days=29, hours=23))

    def grouped_reads() -> int:
        return sum("group by phone_digits" in statement for statement in statements)

    assert [alert.channel_id for alert in recent_channel_alerts(db, now=NOW)] == ["shopCH"]
    recent_channel_alerts(db, now=NOW)
    assert grouped_reads() == 1
    _alert(db, "491510000001", NOW - timedelta(days=1))
    [alert] = recent_channel_alerts(db, now=NOW)
    assert (alert.received_at, grouped_reads()) == ((NOW - timedelta(days=1)).isoformat(), 2)
    # Two hours on, the older alert has left the window: the key changes, the newest stays.
    assert len(recent_channel_alerts(db, now=NOW + timedelta(hours=2))) == 1
    assert grouped_reads() == 3


def _template(db: Database, waba: str, status: str, at: datetime) -> None:
    body = {
        "event": "waba_template_status_changed",
        "id": f"t{random.random()}",
        "data": {"id": waba, "template": {"name": "spring_sale", "language": "en", "status": status}},
    }
    _save(db, body, at)


def test_template_problems_are_read_again_only_when_a_template_event_arrives(db: Database, statements) -> None:
    _channel(db, "aCH", "+49 151 0000002", waba_id="wabaA")
    _template(db, "wabaA", "rejected", NOW - timedelta(hours=2))

    def scans() -> int:
        return sum("order by received_at desc, id desc limit" in statement for statement in statements)

    assert [problem.channel_id for problem in template_problems(db, 50, now=NOW)] == ["aCH"]
    _channel(db, "bCH", "+49 151 0000003", waba_id="wabaA")  # the WABA's channels are read afresh
    assert [problem.channel_id for problem in template_problems(db, 50, now=NOW)] == ["bCH", "aCH"]
    assert scans() == 1
    _template(db, "wabaA", "approved", NOW - timedelta(hours=1))
    assert template_problems(db, 50, now=NOW) == []
    assert scans() == 2


def test_a_template_problem_leaves_with_its_event_and_an_emptied_database_is_read_again(db: Database) -> None:
    _channel(db, "aCH", "+49 151 0000002", waba_id="wabaA")
    _template(db, "wabaA", "rejected", NOW - timedelta(days=29))
    assert len(template_problems(db, 50, now=NOW)) == 1
    assert template_problems(db, 50, now=NOW + timedelta(days=2)) == []
    with db.atomic():
        db.execute("delete from events")
    _template(db, "wabaA", "paused", NOW - timedelta(hours=1))
    [problem] = template_problems(db, 50, now=NOW)
    assert problem.event.status.upper() == "PAUSED"
