"""Numbers as payloads write them: the digits the events' search index keeps for each."""

from __future__ import annotations

from services.whatsapp import MAX_WRITTEN_NUMBERS, written_numbers


def test_numbers_written_with_separators_give_their_digits() -> None:
    payload = {
        "event": "account_violation",
        "data": {
            "phone_number": "+31 6 3439217",
            "other": ["(031) 6-34.39/217", {"deep": "49\u00a0151\t123456"}],
            "plain": "3163439217",  # a word of the body already
            "short": "1 2 3",
            "mixed": "call +31 6 3439217",
            "number": 3163439217,
            "date": "2026-11-20",
        },
    }
    assert sorted(written_numbers(payload).split()) == ["03163439217", "20261120", "3163439217", "49151123456"]


def test_nothing_to_keep_is_none_and_the_count_is_bounded() -> None:
    assert written_numbers({"event": "x", "data": {"id": "abc", "n": 5}}) is None
    assert written_numbers("+49 151 1") == "491511"
    many = [f"+49 151 {index:06d}" for index in range(3 * MAX_WRITTEN_NUMBERS)]
    assert len(written_numbers(many).split()) == MAX_WRITTEN_NUMBERS
    assert written_numbers(["+49 151 1", "+49-151-1"]) == "491511"
