"""Meta's WhatsApp vocabulary as 360dialog passes it on: quality ratings, messaging limits, phone numbers.

Shared by the console (what counts as a drop) and the sandbox hub (what it accepts): these are Meta's
values, not a reading of either side.
"""

from __future__ import annotations

import re
from typing import Any

# Worst first, so that a lower index is a drop.
QUALITY_RATINGS = ("RED", "YELLOW", "GREEN")
MESSAGING_LIMITS = ("TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
# Decisions on a message template, as a template status change reports them.
TEMPLATE_STATUSES = ("approved", "rejected", "paused", "disabled")
# A number as people type it: digits and spaces, an optional leading +.
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ]{5,19}$")

# What people write between a number's digits. A number holding anything else is not matched to another
# by its digits: better no match than a guess.
PHONE_SEPARATORS = " \t\u00a0+-()./"
_NO_SEPARATORS = str.maketrans(dict.fromkeys(PHONE_SEPARATORS))


def phone_digits(number: str | int | None) -> str | None:
    """A number's digits once its separators are taken out ("+49 151 123" and "49151123" both give
    "49151123"); None when nothing or something other than ASCII digits is left. The console's database
    computes the same for each channel (services.migrations.phone_digits_sql)."""
    digits = ("" if number is None else str(number)).translate(_NO_SEPARATORS)
    return digits if digits.isascii() and digits.isdigit() else None


# The search index keeps at most this many numbers per event (services/events/search.py).
MAX_WRITTEN_NUMBERS = 20
_NUMBER_CHARACTERS = frozenset("0123456789" + PHONE_SEPARATORS)


def written_numbers(value: Any) -> str | None:
    """The digits of every text in `value` (a parsed JSON document) that is a number written with separators
    ("+31 6 3439217" gives "3163439217"), space-separated; None when there is none. The events' full-text index
    keeps them, so that any spelling of a number finds it. A number written without separators is a word as it
    is, so it is not repeated here. It runs on every webhook as it is read: a few microseconds."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if (
                5 < len(item) < 41  # a phone number and its separators
                and item[0] in _NUMBER_CHARACTERS
                and not item.isdigit()
                and _NUMBER_CHARACTERS.issuperset(item)
            ):
                digits = phone_digits(item)
                if digits and digits not in found:
                    found.append(digits)
                    if len(found) == MAX_WRITTEN_NUMBERS:
                        break
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return " ".join(found) or None
