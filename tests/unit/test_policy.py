"""KeywordPolicy: the stored form (from_dict/to_dict) and its validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsconsent import DEFAULT_POLICY, KeywordPolicy, PolicyError
from smsconsent.domain.classification import INTENT_SETS

FULL = {
    "matching": "strict",
    "yes_opts_in": False,
    "languages": ["en", "pt"],
    "opt_out": {"add": ["HALT"], "replace": ["STOP", "END"]},
    "opt_in": {"replace": []},
    "help": {"add": ["SOS"]},
    "phrases": {"opt_out": {"add": ["no more deals"]}, "help": {"replace": []}},
    "lists": {"OPTOUT": "marketing", "STOP DEALS": "deals"},
}


def test_full_policy_round_trips_through_json() -> None:
    """A policy written with every key survives to_dict -> JSON -> from_dict unchanged."""
    policy = KeywordPolicy.from_dict(FULL)
    assert policy.to_dict() == FULL
    assert KeywordPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


def test_default_policy_round_trips() -> None:
    """The default policy's stored form gives back an equal policy."""
    assert KeywordPolicy.from_dict(DEFAULT_POLICY.to_dict()) == DEFAULT_POLICY
    assert KeywordPolicy.from_dict({}) == DEFAULT_POLICY


def test_bare_list_is_shorthand_for_add() -> None:
    """`opt_out = [...]` means `opt_out.add = [...]` and is stored in the canonical form."""
    policy = KeywordPolicy.from_dict({"opt_out": ["HALT"], "phrases": {"opt_out": ["go away"]}})
    assert policy.extra == {"opt_out": ("HALT",)}
    assert policy.to_dict()["phrases"] == {"opt_out": {"add": ["go away"]}}


def test_empty_additions_are_dropped_so_equal_policies_compare_equal() -> None:
    """An empty `add` reads messages like no `add`, so the two policies are equal."""
    assert KeywordPolicy(extra={"opt_out": ()}) == DEFAULT_POLICY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"matching": "fuzzy"}, "matching"),
        ({"colour": "red"}, "unknown policy key"),
        ({"opt_out": {"add": "STOP"}}, "opt_out.add must be a list"),
        ({"opt_out": {"remove": ["STOP"]}}, "unknown key"),
        ({"opt_out": {"add": ["!!"]}}, "no letters or digits"),
        ({"maybe": ["X"]}, "unknown policy key"),
        ({"phrases": {"later": ["x"]}}, "unknown intent"),
        ({"phrases": {"opt_out": ["{cease} me"]}}, "literal"),
        ({"lists": {"OPTOUT": ""}}, "list name"),
        ({"lists": ["OPTOUT"]}, "lists"),
        ({"languages": ["xx"]}, "no keyword data"),
        ({"languages": []}, "at least one"),
        ({"yes_opts_in": "no"}, "yes_opts_in"),
        ([], "table"),
    ],
)
def test_bad_policies_are_refused_with_the_reason(data: object, message: str) -> None:
    """Every malformed policy raises PolicyError naming what is wrong."""
    with pytest.raises(PolicyError, match=message):
        KeywordPolicy.from_dict(data)  # type: ignore[arg-type]


WORDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZÉÃ -", min_size=1, max_size=12).filter(
    lambda text: any(ch.isalnum() for ch in text)
)
SETS = st.dictionaries(
    st.sampled_from(INTENT_SETS), st.lists(WORDS, max_size=3).map(tuple), max_size=3
)


@given(
    st.sampled_from(["standard", "strict"]),
    st.booleans(),
    SETS,
    SETS,
    SETS,
    SETS,
    st.dictionaries(WORDS, WORDS, max_size=3),
)
def test_any_policy_round_trips_through_its_stored_form(
    matching: str,
    yes: bool,
    extra: dict[str, tuple[str, ...]],
    replace: dict[str, tuple[str, ...]],
    phrases: dict[str, tuple[str, ...]],
    replace_phrases: dict[str, tuple[str, ...]],
    lists: dict[str, str],
) -> None:
    """Every valid policy comes back equal from to_dict -> JSON -> from_dict."""
    policy = KeywordPolicy(
        matching=matching,  # type: ignore[arg-type]
        yes_opts_in=yes,
        extra=extra,
        replace=replace,
        phrases=phrases,
        replace_phrases=replace_phrases,
        list_keywords=lists,
    )
    stored = json.loads(json.dumps(policy.to_dict()))
    assert KeywordPolicy.from_dict(stored) == policy
    assert KeywordPolicy.from_dict(stored).to_dict() == stored
