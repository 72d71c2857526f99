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
    if not (_fictional_nanp(parsed) or phonenumbers.is_valid_number(parsed)):
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


_NANP_E164 = re.compile(r"\+1([2-9]\d{9})")
# ASCII digits: \d would take any script's, which _PHONE_CHARS refuses
_NANP_E164_ASCII = re.compile(r"\+1([2-9][0-9]{9})")
_NANP_DISPLAY = re.compile(r"\(([2-9][0-9]{2})\) ([0-9]{3})-([0-9]{4})")
_NANP_NATIONAL = re.compile(r"1?([2-9]\d{9})")
_SEPARATORS = str.maketrans("", "", " ()-.\u00a0")
_NANP_REGIONS = frozenset({"US", "CA"})


class PhoneNormalizer:
    """``normalize_phone`` for a million rows: the same answers, about fifty times faster.

    In the North American plan (country code 1) whether a number is valid depends only on its
    first seven national digits (area code, exchange, thousands block): every NANP pattern in
    libphonenumber's metadata ends in free digits. So the slow check runs once per seven-digit
    prefix and its verdict is kept; any other input, and every invalid one (for its exact
    message), goes through ``normalize_phone`` itself. tests/unit/test_phones_fast.py holds the
    two equal on random input and on every NANP region's example numbers.
    """

    def __init__(self, region: str = "US", max_prefixes: int = 200_000) -> None:
        self.region = region.upper()
        self._national = self.region in _NANP_REGIONS
        self._valid: dict[str, bool] = {}
        self._max = max_prefixes

    def __call__(self, text: str) -> str:
        national = self._digits(text) if isinstance(text, str) else None
        if national is not None:
            prefix = national[:7]
            valid = self._valid.get(prefix)
            if valid is None:
                valid = self._check(national)
                if len(self._valid) >= self._max:
                    self._valid.clear()
                self._valid[prefix] = valid
            if valid:
                return "+1" + national
        return normalize_phone(text, self.region)

    def many(self, texts: list[str]) -> list[str | None]:
        """Each text's E.164 form as ``self(text)`` returns it, or None where ``self`` raises.

        For a file's column at a time: the commonest forms are answered in this one loop, not
        by a call a row. An E.164 text that ``_NANP_E164_ASCII`` matches is its own answer, and
        a display-form one's national digits are its digit groups, the two readings
        ``_digits`` tries first, with the prefix verdicts ``self`` keeps; a prefix not known
        yet, and every other text, is asked of ``self``.
        """
        out: list[str | None] = []
        keep, valid = out.append, self._valid
        e164, display = _NANP_E164_ASCII.fullmatch, _NANP_DISPLAY.fullmatch
        national = self._national
        for text in texts:
            if e164(text) is not None:
                if valid.get(text[2:9]):
                    keep(text)
                    continue
            elif national and display(text) is not None:
                prefix = f"{text[1:4]}{text[6:9]}{text[10]}"
                if valid.get(prefix):
                    keep(f"+1{prefix}{text[11:]}")
                    continue
            try:
                keep(self(text))
            except InvalidPhone:
                keep(None)
        return out

    def _digits(self, text: str) -> str | None:
        """The ten national digits of a NANP number written any accepted way, or None.

        The two commonest ways, E.164 and ``(NPA) NXX-XXXX`` (where national numbers are
        read), are matched whole first: they have nothing to strip or remove, so the general
        reading below finds the same digits."""
        match = _NANP_E164_ASCII.fullmatch(text)
        if match is not None:
            return match.group(1)
        if self._national:
            match = _NANP_DISPLAY.fullmatch(text)
            if match is not None:
                return "".join(match.groups())
        raw = text.strip()
        if 0 < len(raw) <= 40 and _PHONE_CHARS.fullmatch(raw):
            compact = raw.translate(_SEPARATORS)
            match = _NANP_E164.fullmatch(compact)
            if match is None and self._national and not compact.startswith("+"):
                match = _NANP_NATIONAL.fullmatch(compact)
            if match is not None:
                return match.group(1)
        return None

    @staticmethod
    def _check(national: str) -> bool:
        """Whether ``normalize_phone`` accepts ``+1`` and these ten digits. ``parse`` would
        build exactly this number from them (no leading zero, no extension), so it is built
        directly and given the same two tests."""
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
        return _fictional_nanp(number) or phonenumbers.is_valid_number(number)
