"""What an operator types into the Events page's search, as an FTS5 query over every stored event.

The index (migration m012, `events_fts`) holds each event's raw body as words (FTS5's unicode61 tokenizer:
letters and digits, case and accents ignored; anything else separates words) and, beside it, the digits of
every number written with separators. A search is a phrase: its words, in the order typed, next to each other
in the body ("marker-77" finds `"note": "marker-77"`). A trailing `*` makes the last word a prefix, when that
word has at least MIN_PREFIX letters or digits. A search that is a phone number in any spelling
("+31 6 3439217", "3163439217", "+3163439217") also finds the number by its digits, in whatever spelling the
payload holds it.

What is typed arrives through the URL as well as the search box, so it may hold anything: control characters
are taken out before anything else (SQLite reads a NUL as the end of the query).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.whatsapp import phone_digits

MAX_LENGTH = 200
# A number this long, once its separators are out, is looked up by its digits as well (phone numbers are 6-20).
MIN_DIGITS = 6
MAX_DIGITS = 20
# FTS5 answers a prefix by merging the entries of every indexed word that starts so: "c*" reads most of the
# index on each refresh, "cha*" a small part of it. A shorter prefix is searched as the whole word.
MIN_PREFIX = 3
_WORD_CHARACTER = re.compile(r"[^\W_]")
_WORD = re.compile(r"[^\W_]+")
# C0 and C1 controls and DEL, and lone surrogates (which no UTF-8 query can carry).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _without_control(match: re.Match[str]) -> str:
    # A tab or a line break parted two words: it still does; any other control is dropped.
    return " " if match.group().isspace() else ""


def clean(text: str) -> str:
    """The search as the index can take it: control characters out, trimmed, at most MAX_LENGTH characters."""
    return _CONTROL.sub(_without_control, text).strip()[:MAX_LENGTH]


def has_words(text: str) -> bool:
    """Whether the text holds anything the index can find: at least one letter or digit."""
    return bool(_WORD_CHARACTER.search(text))


def _split_prefix(text: str) -> tuple[str, bool]:
    """The words to look for, and whether the last one is a prefix (a trailing * after a long enough word)."""
    words = text.rstrip("*").strip()
    if words == text:
        return text, False
    found = _WORD.findall(words)
    return words, bool(found) and len(found[-1]) >= MIN_PREFIX


def is_short_prefix(text: str) -> bool:
    """Whether the search ends with * after a word too short to be a prefix (it is searched as a whole word)."""
    text = clean(text)
    words, prefix = _split_prefix(text)
    return words != text and has_words(words) and not prefix


def is_prefix(text: str) -> bool:
    """Whether the search looks for words that start with its last word."""
    return _split_prefix(clean(text))[1]


def _phrase(text: str) -> str:
    # Inside double quotes FTS5 takes everything literally, splitting it into words as the index did.
    return '"' + text.replace('"', '""') + '"'


def fts_query(text: str, numbers: Iterable[str] = ()) -> str | None:
    """The FTS5 MATCH expression for what was typed; None when it holds no word to look for. `numbers` are the
    digits of what a typed phone number may stand for (services.phone_numbers: "0034 600 111 222" may be
    34600111222), each looked for as well."""
    words, prefix = _split_prefix(clean(text))
    if not has_words(words):
        return None
    star = " *" if prefix else ""
    query = _phrase(words) + star
    digits = phone_digits(words)
    if digits is not None and MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        query = f"{query} OR {_phrase(digits)}" + star
    for number in numbers:
        if number != digits:
            query = f"{query} OR {_phrase(number)}"
    return query
