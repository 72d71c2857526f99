"""Text folding, signature stripping and tokenising (normalize.py)."""

from __future__ import annotations

import pytest

from smsconsent.domain.normalize import clauses, compact, fold, strip_signature, words


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("STOP", "stop"),
        ("\uff33\uff34\uff2f\uff30", "stop"),
        ("\U0001d412\U0001d413\U0001d40e\U0001d40f", "stop"),
        ("\u017ftop", "stop"),
        ("ARR\u00caT", "arret"),
        ("n\u00e3o", "nao"),
        ("S\u200bT\u2060O\ufeffP", "stop"),
        ("\u0421TOP", "ctop"),
        ("ST\u039fP", "stop"),
    ],
)
def test_fold_gives_the_letters_a_person_sees(raw: str, folded: str) -> None:
    """Compatibility forms, invisible characters, accents and look-alikes fold away."""
    assert fold(raw) == folded


def test_fold_leaves_real_cyrillic_words_alone() -> None:
    """A Cyrillic word with letters that have no Latin twin is not rewritten."""
    assert fold("\u0441\u0442\u043e\u043f") == "\u0441\u0442\u043e\u043f"


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ("stop\n\nsent from my iphone", "stop\n"),
        ("stop\n-- john", "stop"),
        ("stop\n- john smith", "stop"),
        ("stop\n\u2014 maria", "stop"),
        ("stop\nget outlook for android", "stop"),
        ("-- stop", "-- stop"),
        ("\n-stop", "\n-stop"),
        ("stop now\nplease", "stop now\nplease"),
    ],
)
def test_strip_signature_drops_only_a_trailing_block(body: str, kept: str) -> None:
    """A signature line after some words is dropped with what follows; nothing else is."""
    assert strip_signature(body) == kept


def test_words_split_letters_from_digits_and_drop_punctuation() -> None:
    """Words are runs of letters or digits; emoji and punctuation only separate them."""
    assert words("stop2quit \U0001f6d1 s.t.o.p don't") == [
        "stop", "2", "quit", "s", "t", "o", "p", "don", "t",
    ]


def test_clauses_split_at_sentence_punctuation() -> None:
    """Commas, full stops and line breaks end a clause; empty clauses are dropped."""
    expected = [["no"], ["stop", "texting", "me"], ["thanks"]]
    assert clauses("no, stop texting me!!\nthanks") == expected


def test_compact_identity_ignores_separators() -> None:
    """OPT OUT, opt-out and optout are one keyword."""
    assert compact("OPT OUT") == compact("opt-out") == compact("optout") == "optout"
