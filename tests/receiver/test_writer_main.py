"""The writer process's loop: the messages that arrived together share one commit, each is answered."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from services.receiver.group_commit import BatchWriter
from services.receiver.stats import Rejection
from services.receiver.writer_main import REJECTION_FLUSH_SECONDS, HeldRejections, answer_messages
from tests.support.receiver import event_body, stored_keys_in
from tests.support.writer import TracedOpen


def writer_counters(db_path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db_path)) as conn:
        return dict(conn.execute("select name, value from receiver_counters where value > 0"))


def test_the_messages_that_arrived_together_share_one_commit(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    messages = [("deliver", number, event_body(f"evt-{number}"), {}, "valid") for number in range(40)]
    messages.append(("reject", "2026-01-01T00:00:00+00:00", "203.0.113.9", 401, "missing signature"))
    messages.append(("probe", 99))

    answers = answer_messages(writer, messages)

    assert traced.commits == 1
    assert len(stored_keys_in(db_path)) == 40
    assert answers[:40] == [(number, "stored", (1, 0, "channel_created", 1)) for number in range(40)]
    assert answers[40][:2] == (99, "probe")
    assert answers[40][2] is not None


def test_a_malformed_body_is_answered_as_such_and_the_rest_is_stored(writer: BatchWriter, db_path: Path):
    messages = [
        ("deliver", 1, event_body("evt-1"), {}, "valid"),
        ("deliver", 2, b"{not json", {}, "valid"),
        ("deliver", 3, event_body("evt-3"), {}, "valid"),
    ]

    answers = answer_messages(writer, messages)

    assert sorted(answers) == [
        (1, "stored", (1, 0, "channel_created", 1)),
        (2, "malformed", "body is not JSON"),
        (3, "stored", (1, 0, "channel_created", 1)),
    ]
    assert stored_keys_in(db_path) == ["id:evt-1", "id:evt-3"]


def test_a_large_arrival_is_split_into_bounded_transactions(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    messages = [("deliver", number, event_body(f"evt-{number}"), {}, "valid") for number in range(25)]

    answers = answer_messages(writer, messages, max_batch_events=10)

    assert traced.commits == 3
    assert [kind for _, kind, _ in answers] == ["stored"] * 25
    assert len(stored_keys_in(db_path)) == 25


def _refusal(source: str, number: int) -> tuple:
    return ("reject", f"2026-01-01T00:00:{number:02d}+00:00", source, 401, "missing signature")


def test_refusals_alone_cost_no_commit_until_they_are_flushed(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    # The old behaviour: every unsigned request cost a synced commit of its own.
    held = HeldRejections()
    answers = answer_messages(writer, [_refusal("203.0.113.9", n) for n in range(30)], held_rejections=held.items)
    assert (answers, traced.commits, len(held.items)) == ([], 0, 30)

    held.flush(writer)
    assert traced.commits == 1
    assert writer_counters(db_path)["rejected"] == 30


def test_held_refusals_join_the_next_stored_batch(writer: BatchWriter, traced: TracedOpen, db_path: Path):
    held = HeldRejections()
    answer_messages(writer, [_refusal("203.0.113.9", 1)], held_rejections=held.items)
    answer_messages(writer, [("deliver", 1, event_body("evt-1"), {}, "valid")], held_rejections=held.items)
    assert (traced.commits, held.items) == (1, [])
    assert writer_counters(db_path) == {"accepted": 1, "rejected": 1}


def test_held_refusals_fall_due_after_a_second() -> None:
    held = HeldRejections()
    held.items.append(Rejection("2026", "203.0.113.9", 401, "missing signature"))
    held.noted()
    assert 0.9 < held.seconds_until_due() <= REJECTION_FLUSH_SECONDS
