"""What an operator types into the Events page's search, as an FTS5 query over every stored event.

The index (migration m012, `events_fts`) holds each event's raw body as words (FTS5's unicode61 tokenizer:
letters and digits, case and accents ignored; anything else separates words) and, beside it, the digits of
every number written with separators. A search is a phrase: its words, in the order typed, next to each other
in the body ("marker-77" finds `"note": "marker-77"`). A trailing `*` makes the last word a prefix. A search
that is a phone number in any spelling ("+31 6 3439217", "3163439217", "+3163439217") also finds the number
by its digits, in whatever spelling the payload holds it.
"""

from __future__ import annotations

import re

from services.whatsapp import phone_digits

MAX_LENGTH = 200
# A number this long, once its separators are out, is looked up by its digits as well (phone numbers are 6-20).
MIN_DIGITS = 6
MAX_DIGITS = 20
_WORD_CHARACTER = re.compile(r"[^\W_]")


def has_words(text: str) -> bool:
    """Whether the text holds anything the index can find: at least one letter or digit."""
    return bool(_WORD_CHARACTER.search(text))


def _phrase(text: str) -> str:
    # Inside double quotes FTS5 takes everything literally, splitting it into words as the index did.
    return '"' + text.replace('"', '""') + '"'


def fts_query(text: str) -> str | None:
    """The FTS5 MATCH expression for what was typed; None when it holds no word to look for."""
    text = text.strip()[:MAX_LENGTH]
    prefix = text.endswith("*")
    text = text.rstrip("*").strip()
    if not has_words(text):
        return None
    query = _phrase(text) + (" *" if prefix else "")
    digits = phone_digits(text)
    if digits is not None and MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        query = f"{query} OR {_phrase(digits)}" + (" *" if prefix else "")
    return query
