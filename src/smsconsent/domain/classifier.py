"""``classify(body, policy)``: what an inbound text asks for, and why.

The reading, in order (docs/keywords.md has the full contract):

1. strict matching: a listed keyword spelling that is the whole body, or nothing;
2. otherwise the body is folded (normalize.py), a trailing signature dropped, and
3. a keyword standing alone is looked for (keywords.py), then
4. an opt-out keyword standing alone as the last sentence ("Who is this? STOP"), then
5. a plain-language revocation (revocation.py);
6. anything else is ``none``.

Speed matters because a busy workspace reads every inbound text, most of which are the same few
bodies ("STOP", "Yes", "ok"). A policy is compiled once into a ``CompiledPolicy`` (found again by
identity, or by its canonical form for an equal policy loaded afresh from the database), which
holds a dict from exact body to result: pre-filled with every keyword in the usual spellings and
then used as a bounded cache. Results are frozen, so sharing them is safe.
"""

from __future__ import annotations

import json
from dataclasses import replace

from smsconsent.domain.classification import (
    DEFAULT_POLICY,
    INTENT_SETS,
    Classification,
    Intent,
    KeywordPolicy,
)
from smsconsent.domain.keywords import KeywordTable
from smsconsent.domain.languages import load_language
from smsconsent.domain.normalize import clauses, fold, strip_signature, words
from smsconsent.domain.revocation import CompiledRule, PhraseReader, compile_rule

NOTHING = Classification(intent=Intent.NONE)
EMPTY = Classification(intent=Intent.NONE, explanation="the message has no letters or digits")
CACHE_SIZE = 65_536
"""Bodies remembered per policy before the cache is reset to its pre-filled keywords."""

_CASES = (str, str.lower, str.upper, str.title)
_EDGES = ("", " ", ".", "!", "!!", "?", "\n", " .")


class CompiledPolicy:
    """A policy with its keyword table and phrase rules built, and its result cache."""

    __slots__ = ("_exact", "_phrases", "_table", "cache", "policy")

    def __init__(self, policy: KeywordPolicy) -> None:
        self.policy = policy
        data = tuple(load_language(code) for code in policy.languages)
        self._table = KeywordTable(policy, data)
        rules: list[CompiledRule] = []
        negation = [cue for lang in data for cue in lang.negation]
        bridges = [word for lang in data for word in lang.bridges]
        rhetorical = [word for lang in data for word in lang.rhetorical]
        for intent in INTENT_SETS:
            for phrase in policy.replace_phrases.get(intent, ()) + policy.phrases.get(intent, ()):
                rules.append(
                    compile_rule(
                        phrase, phrase, Intent(intent), None, {}, (negation, bridges, rhetorical)
                    )
                )
        for lang in data:
            for rule in lang.rules:
                if rule.intent.value in policy.replace_phrases:
                    continue
                rules.append(
                    compile_rule(
                        rule.name, rule.pattern, rule.intent, lang.code, lang.classes,
                        (lang.negation, lang.bridges, lang.rhetorical),
                    )
                )
        fillers = {w for lang in data for filler in lang.fillers for w in words(fold(filler))}
        self._phrases = PhraseReader(rules, fillers)
        self.cache: dict[str, Classification] = {}
        for spelling in self._table.spellings():
            for case in _CASES:
                for edge in _EDGES:
                    body = case(spelling) + edge
                    self.cache[body] = self.read(body)
        self._exact = dict(self.cache)

    def read(self, body: str) -> Classification:
        """Classify without the cache (the cache stores exactly what this returns)."""
        if self.policy.matching == "strict":
            return self._table.read_strict(body) or NOTHING
        folded = strip_signature(fold(body))
        message_words = words(folded)
        if not message_words:
            return EMPTY
        whole = self._table.read_alone(message_words)
        if whole is not None:
            return whole
        sentences = clauses(folded)
        return (
            self._last_sentence(sentences)
            or self._phrases.read(sentences)
            or self._table.near_miss(message_words)
            or NOTHING
        )

    def _last_sentence(self, sentences: list[list[str]]) -> Classification | None:
        """An opt-out keyword standing alone as the last sentence: "Who is this? STOP".

        Only the last, and only an opt-out: "Stop, wait, I have a question" and "Did you get
        it? Yes." are conversation, while a closing "STOP" after a complaint is not.
        """
        if len(sentences) < 2:
            return None
        found = self._table.read_alone(sentences[-1])
        if found is None or found.intent is not Intent.OPT_OUT:
            return None
        return replace(found, explanation=f"{found.explanation}, as the last sentence")

    def classify(self, body: str) -> Classification:
        """``read`` through the bounded cache."""
        result = self.cache.get(body)
        if result is None:
            result = self.read(body)
            if len(self.cache) >= CACHE_SIZE:
                self.cache = dict(self._exact)
            self.cache[body] = result
        return result


_by_identity: dict[int, tuple[KeywordPolicy, CompiledPolicy]] = {}
_by_form: dict[str, CompiledPolicy] = {}
_MAX_POLICIES = 256


def compiled(policy: KeywordPolicy) -> CompiledPolicy:
    """The compiled form of ``policy``, built at most once per distinct policy content.

    Policies hold dicts, so they are not hashable; they are found by identity first (the entry
    keeps the policy alive, so its id cannot be reused) and then by canonical JSON.
    """
    entry = _by_identity.get(id(policy))
    if entry is not None and entry[0] is policy:
        return entry[1]
    form = json.dumps(policy.to_dict(), sort_keys=True)
    found = _by_form.get(form)
    if found is None:
        found = CompiledPolicy(policy)
        if len(_by_form) >= _MAX_POLICIES:
            _by_form.clear()
        _by_form[form] = found
    if len(_by_identity) >= _MAX_POLICIES:
        _by_identity.clear()
    _by_identity[id(policy)] = (policy, found)
    return found


def classify(body: str, policy: KeywordPolicy = DEFAULT_POLICY) -> Classification:
    """Read one inbound body under ``policy`` (default: standard matching, four languages)."""
    entry = _by_identity.get(id(policy))
    if entry is None or entry[0] is not policy:
        return compiled(policy).classify(body)
    result = entry[1].cache.get(body)
    if result is None:
        return entry[1].classify(body)
    return result
