"""Phone numbers as the ledger keys them: E.164, or a short code kept as its digits."""

from __future__ import annotations

import re
from enum import StrEnum
from operator import itemgetter
from typing import cast

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
# Runs of lines that are each one of the two forms ``many`` answers itself (national numbers
# read: E.164 or display form; not: E.164 only), by whether national numbers are read.
_RUNS = {
    True: re.compile(r"(?:(?:\+1[2-9][0-9]{9}|\([2-9][0-9]{2}\) [0-9]{3}-[0-9]{4})\n)*"),
    False: re.compile(r"(?:\+1[2-9][0-9]{9}\n)*"),
}
_PREFIX = itemgetter(slice(2, 9))  # of "+1" and ten digits: the 7-digit prefix


def _odd_lines(runs: re.Pattern[str], column: str) -> list[int]:
    """The numbers of the lines of ``column`` (each ending in a line end) that ``runs`` does
    not take: one ``match`` per such line, not one per line."""
    odd: list[int] = []
    pos = line = 0
    while (stop := cast(re.Match[str], runs.match(column, pos)).end()) < len(column):  # matches ""
        line += column.count("\n", pos, stop)
        odd.append(line)
        line += 1
        pos = column.index("\n", stop) + 1
    return odd


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

        For a file's column at a time, with no call a text for the commonest forms: the
        column is one string, a line a text, and one regex walks it (``_RUNS``) and stops
        only at the texts that are neither E.164 that ``_NANP_E164_ASCII`` matches nor (where
        national numbers are read) ``(NPA) NXX-XXXX`` that ``_NANP_DISPLAY`` matches: the two
        readings ``_digits`` tries first. Three replacements turn every display form into
        ``+1`` and its digit groups at once, and each distinct 7-digit prefix is looked up in
        the verdicts ``self`` keeps (learnt here when new). The other texts, and those whose
        prefix is not valid, are asked of ``self``; so is every text of a column where one
        holds a line break (``_each``).
        """
        column = "\n".join(texts) + "\n"
        if column.count("\n") != len(texts):
            return self._each(texts)
        odd = _odd_lines(_RUNS[self._national], column)
        if self._national:
            column = column.replace("(", "+1").replace(") ", "").replace("-", "")
        out: list[str | None] = list(column.split("\n"))
        out.pop()  # after the last line end
        for i in odd:
            out[i] = None
        fit = cast(list[str], list(filter(None, out)))
        prefixes = set(map(_PREFIX, fit))
        valid = self._valid
        if unknown := prefixes.difference(valid):
            if len(valid) + len(unknown) > self._max:
                valid.clear()
                unknown = prefixes
            numbers = dict(zip(map(_PREFIX, fit), fit, strict=True))  # one number a prefix
            for prefix in unknown:
                valid[prefix] = self._check(numbers[prefix][2:])
        if not all(map(valid.__getitem__, prefixes)):
            refused = {prefix for prefix in prefixes if not valid[prefix]}
            odd = sorted({*odd, *(i for i, phone in enumerate(out)
                                  if phone is not None and phone[2:9] in refused)})
        for i in odd:
            try:
                out[i] = self(texts[i])
            except InvalidPhone:
                out[i] = None
        return out

    def _each(self, texts: list[str]) -> list[str | None]:
        """``many``'s answers, a text at a time (for a column where a text holds a line
        break): E.164 and display-form texts whose prefix is known are answered here."""
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
