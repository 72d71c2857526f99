"""Phone numbers as the ledger keys them: E.164, or a short code kept as its digits."""

from __future__ import annotations

import re
from enum import StrEnum

import phonenumbers

from smsconsent.errors import InvalidPhone

_PHONE_CHARS = re.compile(r"\+?[0-9 ()\-.\u00a0]+")


class NumberKind(StrEnum):
    """What sort of sending number; toll-free numbers read fewer keywords (no YES)."""

    LONG_CODE = "long_code"
    TOLL_FREE = "toll_free"
    SHORT_CODE = "short_code"


def is_short_code(text: str) -> bool:
    digits = text.strip()
    return digits.isdigit() and 3 <= len(digits) <= 8


def normalize_phone(text: str, region: str = "US") -> str:
    """Return the E.164 form of ``text``; national input is read with the workspace's region.

    Raises InvalidPhone with the reason, so bad input never reaches the ledger.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidPhone("phone number is empty")
    raw = text.strip()
    if len(raw) > 40:
        raise InvalidPhone(f"not a phone number: {raw[:40]!r}...")
    if not _PHONE_CHARS.fullmatch(raw):
        raise InvalidPhone(f"not a phone number: {raw!r} (only digits, spaces, + - . ( ))")
    try:
        parsed = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {raw!r} ({exc})") from None
    if not (phonenumbers.is_valid_number(parsed) or _fictional_nanp(parsed)):
        raise InvalidPhone(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_sender(text: str, region: str = "US") -> str:
    """A sending number: E.164, or a short code's digits as they are."""
    if is_short_code(text):
        return text.strip()
    return normalize_phone(text, region)


def _fictional_nanp(parsed: phonenumbers.PhoneNumber) -> bool:
    """+1 555 numbers are reserved for examples and tests; accept them as well-formed."""
    national = str(parsed.national_number)
    return parsed.country_code == 1 and len(national) == 10 and national.startswith("555")


def number_kind(number: str) -> NumberKind:
    """Tell a short code, a toll-free number and a long code apart."""
    if is_short_code(number):
        return NumberKind.SHORT_CODE
    parsed = phonenumbers.parse(number, None)
    if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.TOLL_FREE:
        return NumberKind.TOLL_FREE
    return NumberKind.LONG_CODE
