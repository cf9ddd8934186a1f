"""The writer process's loop: the messages that arrived together share one commit, each is answered."""

from __future__ import annotations

from pathlib import Path

from services.receiver.group_commit import BatchWriter
from services.receiver.writer_main import answer_messages
from tests.support.receiver import event_body, stored_keys_in
from tests.support.writer import TracedOpen


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
