"""classify() as a library: policies, data languages, caching and rule compilation."""

from __future__ import annotations

import pytest

from smsconsent import Intent, KeywordPolicy, PolicyError, classify
from smsconsent.domain import classifier
from smsconsent.domain.classifier import CompiledPolicy, compiled
from smsconsent.domain.revocation import compile_rule


def test_a_language_added_as_data_is_read_once_enabled() -> None:
    """Norwegian ships as data: AVMELD and "Stopp takk" are none by default (alone, "STOPP" is
    read as a stretched English STOP) and Norwegian opt-outs once `no` is enabled."""
    assert classify("AVMELD").intent is Intent.NONE
    assert classify("Stopp takk").intent is Intent.NONE
    assert classify("AVMELD", KeywordPolicy(languages=("en", "no"))).keyword == "AVMELD"
    result = classify("Stopp takk", KeywordPolicy(languages=("en", "no")))
    assert (result.intent, result.keyword, result.language) == (Intent.OPT_OUT, "STOPP", "no")


def test_workspace_keyword_wins_over_a_default_spelled_the_same() -> None:
    """A list keyword OPTOUT means leaving the list, in every spelling of OPT OUT."""
    policy = KeywordPolicy(list_keywords={"OPTOUT": "marketing"})
    for body in ("OPTOUT", "opt out", "Opt-Out."):
        assert classify(body, policy).list == "marketing"
    assert classify("STOP", policy).list is None


def test_replacing_a_set_drops_the_defaults_of_every_language() -> None:
    """`replace` on opt_out leaves only the workspace's words."""
    policy = KeywordPolicy(replace={"opt_out": ("FIN",)})
    assert classify("fin", policy).intent is Intent.OPT_OUT
    assert classify("BAJA", policy).intent is Intent.NONE
    assert classify("START", policy).intent is Intent.OPT_IN


def test_replacing_opt_in_also_drops_yes() -> None:
    """YES belongs to the opt-in set: a replaced set does not bring it back."""
    assert classify("YES", KeywordPolicy(replace={"opt_in": ("START",)})).intent is Intent.NONE


def test_workspace_phrase_of_another_intent() -> None:
    """A workspace may add phrases for opt-in and help too; an opt-out still wins."""
    policy = KeywordPolicy(phrases={"opt_in": ("text me again",), "help": ("who is this",)})
    assert classify("please text me again", policy).intent is Intent.OPT_IN
    assert classify("who is this?", policy).intent is Intent.HELP
    assert classify("who is this? stop texting me", policy).intent is Intent.OPT_OUT


def test_equal_policies_share_one_compiled_form() -> None:
    """A policy rebuilt from the database is not compiled again."""
    first = KeywordPolicy(list_keywords={"STOP DEALS": "deals"})
    again = KeywordPolicy.from_dict(first.to_dict())
    assert first is not again
    assert compiled(first) is compiled(again)


def test_cache_is_bounded_and_keeps_the_keyword_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the cache is full it resets to the pre-filled keywords, never growing further."""
    monkeypatch.setattr(classifier, "CACHE_SIZE", 10)
    policy = CompiledPolicy(KeywordPolicy(languages=("en",)))
    prefilled = len(policy.cache)
    for number in range(50):
        assert policy.classify(f"message {number}").intent is Intent.NONE
        assert len(policy.cache) <= prefilled + 1
    assert policy.classify("STOP").intent is Intent.OPT_OUT


def test_rule_with_unknown_class_is_refused() -> None:
    """A data rule naming a word class that does not exist is an error, not a silent miss."""
    with pytest.raises(PolicyError, match="unknown word class"):
        compile_rule("r", "{nope} me", Intent.OPT_OUT, "en", {}, ((), (), ()))


def test_rule_must_start_with_a_required_word() -> None:
    """A pattern that could start anywhere is refused (rules are indexed by first word)."""
    with pytest.raises(PolicyError, match="must start"):
        compile_rule("r", "... me", Intent.OPT_OUT, "en", {}, ((), (), ()))


def test_start_anchor_only_first_and_only_after_fillers() -> None:
    """``^`` starts a pattern only, and its match needs nothing but fillers before it in the
    clause: a workspace phrase "^ no more deals" reads "ok, no more deals" but not "there are no
    more deals"."""
    with pytest.raises(PolicyError, match=r"\^ may only start"):
        compile_rule("r", "no ^ more", Intent.OPT_OUT, "en", {}, ((), (), ()))
    policy = KeywordPolicy.from_dict({"phrases": {"opt_out": {"add": ["^ no more deals"]}}})
    assert classify("ok, no more deals", policy).intent is Intent.OPT_OUT
    assert classify("please no more deals!", policy).intent is Intent.OPT_OUT
    assert classify("there are no more deals", policy).intent is Intent.NONE
    assert classify("sad: there are no more deals", policy).intent is Intent.NONE


def test_explanations_name_the_rule_and_the_words() -> None:
    """An auditor reads which rule matched and on which words."""
    result = classify("please stop texting me")
    assert result.explanation == 'phrase rule "stop + contact verb + me" (en): "stop texting me"'
    assert "beside: please" in classify("STOP please").explanation


def test_near_misses_are_explained() -> None:
    """A `none` says which keyword was not alone, or which negation cancelled a phrase."""
    expected = 'keyword "END" is not alone in the message (also: the)'
    assert classify("The END").explanation == expected
    negated = classify("Don't stop texting me!")
    assert negated.intent is Intent.NONE
    assert '"stop texting me" but "don t" before it negates it' in negated.explanation


def test_misspellings_are_read_by_standard_matching_only() -> None:
    """UNSUSCRIBE finds UNSUBSCRIBE when matching is tolerant; strict reads the sets as listed,
    and a policy that replaces the opt-out set brings no misspelling of the defaults."""
    assert classify("Unsuscribe").keyword == "UNSUBSCRIBE"
    assert classify("Unsuscribe", KeywordPolicy(matching="strict")).intent is Intent.NONE
    replaced = KeywordPolicy(replace={"opt_out": ("FIN",)})
    assert classify("Unsuscribe", replaced).intent is Intent.NONE
    assert classify("STOPPP", replaced).intent is Intent.NONE
