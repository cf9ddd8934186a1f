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
# Since October 2025 Meta sets limits per business portfolio and may write them as numbers; both spellings sit on
# one scale (business-initiated conversations a day), so a move from TIER_10K to 2000 is a drop.
PORTFOLIO_LIMITS = ("250", "2000", "10000", "100000", "unlimited")
UNLIMITED = float("inf")
_LIMIT_VALUES = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1000,
    "TIER_2K": 2000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": UNLIMITED,
    "UNLIMITED": UNLIMITED,
}
# Decisions on a message template, as a template status change reports them.
TEMPLATE_STATUSES = ("approved", "rejected", "paused", "disabled")


def limit_value(value: str | int | float | None) -> float | None:
    """A messaging limit on one scale: a tier ("TIER_2K") or a number ("2000", 2000) gives 2000, "unlimited" or
    TIER_UNLIMITED infinity; None for anything Meta does not write (a drop is only ever told between two known
    values)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    text = value.strip().upper()
    if text in _LIMIT_VALUES:
        return float(_LIMIT_VALUES[text])
    digits = text.replace(",", "").replace("_", "").replace(" ", "")
    return float(digits) if digits.isascii() and digits.isdigit() and int(digits) > 0 else None


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
