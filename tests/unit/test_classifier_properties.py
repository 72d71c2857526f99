"""Invariants of the classifier, checked on generated messages (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from smsconsent import Intent, KeywordPolicy, classify
from smsconsent.domain.classifier import compiled
from smsconsent.domain.languages import load_language

STANDARD = KeywordPolicy()
STRICT = KeywordPolicy(matching="strict")
LISTS = KeywordPolicy.from_dict({"lists": {"OPTOUT": "marketing", "STOP DEALS": "deals"}})
LISTS_STRICT = KeywordPolicy.from_dict({**LISTS.to_dict(), "matching": "strict"})

SPELLINGS = sorted(
    {
        spelling
        for code in STANDARD.languages
        for spellings in (*load_language(code).keywords.values(), load_language(code).yes)
        for spelling in spellings
    }
)
CORPUS_BODIES = [
    json.loads(line)["body"]
    for line in (Path(__file__).parent / "corpus" / "classifier.jsonl").read_text().splitlines()
]

# Characters that never carry a letter or digit: whitespace of every kind, invisible format
# characters, punctuation, quotes and emoji.
NOISE_PIECES = [
    *" \t\n\r\u00a0\u2003\u3000\u200b\u200d\u2060\ufeff",
    *".,!?;:'\"()[]-_*~\u201c\u201d\u2019",
    *["\U0001f6d1", "\U0001f44d", "\U0001f621", "\U0001f64f", "\u2764\ufe0f", "\U0001f600"],
]
NOISE = st.lists(
    st.sampled_from(NOISE_PIECES),
    max_size=6,
).map("".join)


@given(st.sampled_from(SPELLINGS), NOISE, NOISE)
def test_keyword_wrapped_in_noise_is_still_that_keyword(
    spelling: str, left: str, right: str
) -> None:
    """Whitespace, punctuation, quotes and emoji around a listed keyword never change it."""
    bare = classify(spelling)
    wrapped = classify(left + spelling + right)
    assert bare.intent is not Intent.NONE
    assert (wrapped.intent, wrapped.keyword, wrapped.language) == (
        bare.intent,
        bare.keyword,
        bare.language,
    )


@given(st.text(alphabet="gwxzGWXZ0123456789 .,!?\n\U0001f642\u00a0", max_size=40))
def test_message_without_keyword_letters_is_none(body: str) -> None:
    """Text made only of letters no keyword uses (g, w, x, z), digits and noise is `none`."""
    assert classify(body).intent is Intent.NONE


@given(st.sampled_from(CORPUS_BODIES), st.randoms(use_true_random=False))
def test_case_changes_never_change_the_result(body: str, random: object) -> None:
    """Upper, lower and randomly mixed case give the same classification."""
    import random as random_module

    assert isinstance(random, random_module.Random)
    mixed = "".join(c.upper() if random.random() < 0.5 else c.lower() for c in body)
    expected = classify(body)
    for variant in (body.upper(), body.lower(), mixed):
        assert classify(variant) == expected, variant


@given(st.one_of(st.sampled_from([*SPELLINGS, "STOP DEALS"]), st.text(max_size=20)), NOISE)
def test_strict_opt_outs_are_standard_opt_outs(body: str, noise: str) -> None:
    """Whatever strict matching reads as an opt-out, standard matching reads the same way."""
    for text in (body, body + noise, noise + body):
        for strict, standard in ((STRICT, STANDARD), (LISTS_STRICT, LISTS)):
            strict_result = classify(text, strict)
            if strict_result.intent is Intent.OPT_OUT:
                standard_result = classify(text, standard)
                assert standard_result.intent is Intent.OPT_OUT
                assert standard_result.list == strict_result.list


@given(st.text(max_size=60))
def test_any_text_gets_a_reading_with_an_explanation(body: str) -> None:
    """Arbitrary Unicode never raises and always comes back with an intent and an explanation."""
    result = classify(body)
    assert result.intent in Intent
    assert result.explanation
    assert (result.match is None) == (result.intent is Intent.NONE)


@given(st.one_of(st.sampled_from(CORPUS_BODIES), st.text(max_size=30)))
def test_cache_returns_what_an_uncached_read_returns(body: str) -> None:
    """The exact-body cache is invisible: it returns what reading the body afresh returns."""
    for policy in (STANDARD, STRICT, LISTS):
        assert classify(body, policy) == compiled(policy).read(body)


@given(
    st.sampled_from(SPELLINGS),
    st.sampled_from(
        ["\n\nSent from my iPhone", "\n-- John", "\n\u2014 Maria", "\nGet Outlook for iOS"]
    ),
)
def test_signature_block_never_changes_a_keyword(spelling: str, signature: str) -> None:
    """A trailing signature block is dropped before reading."""
    assert classify(spelling + signature) == classify(spelling)


@given(st.sampled_from(CORPUS_BODIES))
def test_equal_policies_read_alike(body: str) -> None:
    """A policy rebuilt from its stored form reads every message as the original does."""
    rebuilt = KeywordPolicy.from_dict(json.loads(json.dumps(LISTS.to_dict())))
    assert classify(body, rebuilt) == classify(body, LISTS)


SINGLE_WORDS = [s for s in SPELLINGS if s.isalpha() and len(s) >= 2]


@given(st.sampled_from(SINGLE_WORDS), st.data())
def test_a_held_down_key_keeps_the_keyword(spelling: str, data: st.DataObject) -> None:
    """A keyword with one letter typed three or more times, or its last letter doubled, reads
    as the keyword itself ("STOPPP", "stoooop", "YESS")."""
    index = data.draw(st.integers(0, len(spelling) - 1), label="letter")
    extra = data.draw(st.integers(2 if index < len(spelling) - 1 else 1, 6), label="extra")
    stretched = spelling[: index + 1] + spelling[index] * extra + spelling[index + 1 :]
    plain, long = classify(spelling), classify(stretched)
    assert (long.intent, long.keyword) == (plain.intent, plain.keyword), long.explanation
