"""The bulk phone normaliser gives exactly the answers of ``normalize_phone``."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.domain.phones import PhoneNormalizer, normalize_phone
from smsconsent.errors import InvalidPhone


def _slow(text: str, region: str) -> str:
    try:
        return normalize_phone(text, region)
    except InvalidPhone as exc:
        return f"error: {exc.message}"


def _fast(norm: PhoneNormalizer, text: str) -> str:
    try:
        return norm(text)
    except InvalidPhone as exc:
        return f"error: {exc.message}"


_PHONEISH = st.text(alphabet="0123456789 ()-.+", min_size=0, max_size=20)
_NANP = st.from_regex(r"\A(\+1|1)?[ (]?[0-9]{3}[) .-]?[0-9]{3}[ .-]?[0-9]{4}\Z")
_DISPLAY = st.from_regex(r"\A\s?(\+1 )?\([0-9]{3}\) [0-9]{3}-[0-9]{4}\s?\Z")


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(_PHONEISH, _NANP, _DISPLAY), region=st.sampled_from(["US", "CA", "GB"]))
def test_same_answer_as_normalize_phone(text: str, region: str) -> None:
    """On phone-like noise and NANP shapes, the fast path agrees with the slow one exactly."""
    norm = PhoneNormalizer(region)
    assert _fast(norm, text) == _slow(text, region)
    assert _fast(norm, text) == _slow(text, region)  # a second time, from the prefix cache


@pytest.mark.parametrize("region", sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]))
def test_line_digits_never_change_validity(region: str) -> None:
    """For every NANP region's example numbers, the last three digits do not change validity."""
    norm = PhoneNormalizer("US")
    for kind in range(12):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None or example.country_code != 1:
            continue
        national = str(example.national_number)
        for tail in range(0, 1000, 37):
            number = f"+1{national[:7]}{tail:03d}"
            assert _fast(norm, number) == _slow(number, "US"), number


def _many(norm: PhoneNormalizer, texts: list[str]) -> list[str]:
    return ["invalid" if phone is None else phone for phone in norm.many(texts)]


def _expected(texts: list[str], region: str) -> list[str]:
    return ["invalid" if answer.startswith("error: ") else answer
            for answer in (_slow(text, region) for text in texts)]


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(_PHONEISH, _NANP, _DISPLAY), max_size=30),
       region=st.sampled_from(["US", "CA", "GB"]))
def test_many_is_one_call_a_text(texts: list[str], region: str) -> None:
    """``many`` answers each text as ``normalize_phone`` does (None exactly where it raises),
    on a fresh normaliser, on one whose prefix cache those texts already filled, and on one
    whose cache holds so few prefixes that it is emptied on the way."""
    warm = PhoneNormalizer(region)
    for text in texts:
        _fast(warm, text)
    tiny = PhoneNormalizer(region, max_prefixes=2)
    for norm in (PhoneNormalizer(region), warm, tiny, tiny):
        assert _many(norm, texts) == _expected(texts, region)


def _examples(region: str) -> list[str]:
    """phonenumbers' example numbers of every type for ``region``, written in E.164 and in
    the national display form ``(NPA) NXX-XXXX`` the fast path reads whole."""
    texts = []
    for kind in range(12):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        texts.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
        national = str(example.national_number)
        if example.country_code == 1 and len(national) == 10:
            for tail in range(0, 1000, 111):
                digits = f"{national[:7]}{tail:03d}"
                texts += [f"+1{digits}", f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"]
    return texts


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_many_on_every_regions_example_numbers(region: str) -> None:
    """For each region's example numbers, read with the region itself and with US and CA as
    the workspace's region, ``many`` and ``normalize_phone`` agree, cold and warm."""
    texts = _examples(region)
    for home in {region, "US", "CA"}:
        norm = PhoneNormalizer(home)
        assert _many(norm, texts) == _expected(texts, home)
        assert _many(norm, texts) == _expected(texts, home)  # from the prefix cache


class _Counting(PhoneNormalizer):
    calls = 0

    def __call__(self, text: str) -> str:
        self.calls += 1
        return super().__call__(text)


def test_many_answers_the_common_forms_itself() -> None:
    """E.164 and ``(NPA) NXX-XXXX`` texts are answered by ``many`` itself, with no call a
    text (the point of it), their prefixes learnt in bulk; the answers are still the same.
    Other texts, and a column where a text holds a line break, are asked one by one."""
    norm = _Counting("US")
    texts = [f"+1555123{n:04d}" for n in range(50)] + \
        [f"(555) 123-{n:04d}" for n in range(50, 100)]
    assert _many(norm, texts) == _expected(texts, "US")
    assert norm.calls == 0
    assert _many(norm, texts) == _expected(texts, "US")
    assert norm.calls == 0
    odd = [*texts[:3], "555.123.0001", "+1 (555) 123-0002", "not-a-number", "(555) 123-0003"]
    assert _many(norm, odd) == _expected(odd, "US")
    assert norm.calls == 3
    assert _many(norm, [*odd, "+1555\n1230004"]) == _expected([*odd, "+1555\n1230004"], "US")
    assert norm.calls == 3 + 4  # the line break: each text that is not a common form
