"""Phone numbers as people type them into a search box, read by `phonenumbers` (the Python port of Google's
libphonenumber) rather than by rules of our own: which digits are a country code, what a `00` or `011` in
front means in the default region, which `0` is a trunk prefix.

A typed number may be read more than one way ("34600111222" is a German national number to a German reader,
and +34 600 111 222 to anyone who reads it as international): every reading is kept, and a stored number is
found when it equals one of them. Stored numbers come from 360dialog in international form; the database keeps
their digits and their national significant number (services.migrations.phone_national_sql) to match against.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers
from phonenumbers import CountryCodeSource, NumberParseException, PhoneNumber

from services.whatsapp import phone_digits

# Where the ops team is when it types a national number (a trunk prefix, an international prefix like 00).
# Germany, where 360dialog is: its international prefix 00 is the one most of the world uses.
DEFAULT_REGION = "DE"
# A number has 6 to 15 digits once read (E.164); what people type around it (00, 011, a trunk 0) adds a few.
MIN_DIGITS = 6
MAX_DIGITS = 20
# A number written with a region's own prefixes: the country code is the default region's, not typed.
_NATIONAL_SOURCES = frozenset({CountryCodeSource.FROM_DEFAULT_COUNTRY})


def check_region(value: str) -> str:
    """The region as phonenumbers names it ("es" gives "ES"); ValueError naming the setting when it names none."""
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            "CONSOLE_PHONE_REGION must be a two-letter region code phonenumbers knows (DE, ES, GB, US, ...)"
        )
    return region


@dataclass(frozen=True)
class NumberReadings:
    """What a typed number may stand for."""

    digits: str  # the digits as typed, separators out ("0034600111222")
    international: tuple[str, ...]  # E.164 digits (country code and national number) it may be ("34600111222")
    national: str | None  # its national significant number, when it was typed without a country code


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region, keep_raw_input=True)
    except NumberParseException:
        return None


def _e164_digits(number: PhoneNumber) -> str:
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def read_number(text: str, region: str = DEFAULT_REGION) -> NumberReadings | None:
    """The readings of `text` as a phone number ("+34 600 111 222", "0034 600-111-222", "34600111222",
    "600111222"); None when it is not a number: anything but digits and separators, or too few or many digits."""
    digits = phone_digits(text.strip())
    if digits is None or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return None
    international: list[str] = []
    national = None
    as_typed = _parse(text, region)
    if as_typed is not None:
        international.append(_e164_digits(as_typed))
        if as_typed.country_code_source in _NATIONAL_SOURCES:
            national = phonenumbers.national_significant_number(as_typed)
    if not text.strip().startswith("+"):
        # Digits typed without a plus may still be international ("34600111222"), whatever the region says.
        with_plus = _parse("+" + digits, None)
        if with_plus is not None and _e164_digits(with_plus) not in international:
            international.append(_e164_digits(with_plus))
    return NumberReadings(digits, tuple(international), national)


def national_number(digits: str) -> str | None:
    """The national significant number of a number stored in international form ("34600111222" gives
    "600111222"); what the database computes for each channel (services.migrations.phone_national_sql)."""
    number = _parse("+" + digits, None)
    return phonenumbers.national_significant_number(number) if number is not None else None


def country_code_lengths() -> dict[str, int]:
    """Every country calling code phonenumbers knows, with its length in digits (1 to 3)."""
    return {str(code): len(str(code)) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


# Parsing costs about 27 µs a number; the Channels page names up to 350 on each 3-second refresh.
@functools.lru_cache(maxsize=8192)
def spelled_out(number: str | None) -> str | None:
    """A number as people write it: the bare digits a webhook carries ("4915112345678", or with a plus) in
    international form ("+49 1511 2345678"); a number spelled out already, or digits no country's numbers can
    be, as stored."""
    if not number:
        return number
    digits = number.removeprefix("+")
    if not digits.isascii() or not digits.isdigit():
        return number
    parsed = _parse("+" + digits, None)
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
