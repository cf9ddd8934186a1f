"""Channels named as people know them: a number a webhook gave as digits reads as people write it, wherever the
console names the channel."""

from __future__ import annotations

import pytest

from services.channels.labels import channel_label
from services.channels.projection import upsert_channel
from services.phone_numbers import spelled_out


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("4915112345678", "+49 1511 2345678"),
        ("+4915112345678", "+49 1511 2345678"),
        ("15550100001", "+1 555-010-0001"),
        # Spelled out already: as stored, though libphonenumber would group it otherwise.
        ("+34 600 111 222", "+34 600 111 222"),
        # Digits no country's numbers can be, other scripts' digits, nothing: as stored.
        ("123", "123"),
        ("12345678901234567", "12345678901234567"),
        ("٣٤٦٠٠١١١٢٢٢", "٣٤٦٠٠١١١٢٢٢"),
        ("", ""),
        (None, None),
    ],
)
def test_a_number_is_spelled_out_only_when_stored_as_bare_digits(stored, shown) -> None:
    assert spelled_out(stored) == shown


def test_the_label_of_a_channel_a_webhook_named_by_digits(db) -> None:
    with db.atomic():
        upsert_channel(db, "dCH", {"phone_number": "34600111222", "phone_name": "Deli"}, source="test")
    label = channel_label(db, "dCH")
    assert label.text == "+34 600 11 12 22 (Deli)"
    assert label.phone_number == "34600111222"  # stored as it came: searches read the digits
