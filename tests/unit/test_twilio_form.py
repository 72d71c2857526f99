"""Twilio's form body is read exactly as ``parse_qsl`` (strict, blanks kept) would read it."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.errors import BadInput
from smsconsent.providers import twilio


def reference(raw: bytes) -> dict[str, str] | str:
    """The form as ``parse_qsl`` reads it, or the error code it is refused with."""
    try:
        text = raw.decode("utf-8")
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                              max_num_fields=twilio.MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        return "malformed_form"


def read(raw: bytes) -> dict[str, str] | str:
    try:
        return twilio.parse_form(raw)
    except BadInput as exc:
        return exc.code


# Pieces a form body is made of, valid or not: escapes (good, bad, not UTF-8), pluses,
# separators in odd places, non-ASCII text.
noise = st.lists(st.sampled_from(["a", "=", "&", "+", "%", "%2", "%2B", "%20", "%zz", "%C3%A9",
                                  "%FF", "%e9", "é", "From", "Body", " ", ";", "&&", "=="]),
                 max_size=12).map("".join)
fields = st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20)), max_size=8)


@settings(max_examples=600, deadline=None)
@given(text=noise)
def test_any_text_reads_as_parse_qsl(text: str) -> None:
    """Any mix of escapes, pluses and separators: the same fields, or refused alike."""
    assert read(text.encode()) == reference(text.encode())


@settings(max_examples=300, deadline=None)
@given(pairs=fields, plus=st.booleans())
def test_encoded_forms_read_as_parse_qsl(pairs: list[tuple[str, str]], plus: bool) -> None:
    """Forms as a client encodes them (spaces as + or %20, repeated names, blanks)."""
    raw = (urlencode(pairs) if plus else urlencode(pairs, quote_via=quote)).encode()
    assert read(raw) == reference(raw)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=40))
def test_any_bytes_read_as_parse_qsl(raw: bytes) -> None:
    """Bytes that are not UTF-8, or not a form at all: refused exactly when the reference is."""
    assert read(raw) == reference(raw)


@pytest.mark.parametrize("count", [twilio.MAX_FIELDS, twilio.MAX_FIELDS + 1])
def test_field_limit_as_parse_qsl(count: int) -> None:
    """The field limit: at it the form is read, past it refused, as ``max_num_fields``."""
    raw = "&".join(f"f{i}=v" for i in range(count)).encode()
    assert read(raw) == reference(raw)
