"""Plain-language revocation: "please stop texting me", "me tira dessa lista".

The FCC's 2024 TCPA order lets a person revoke consent "by any reasonable means", so the words
people actually write must count, not only keywords. The grammar lives in the language data
files so that it can be read, reviewed and extended without touching code; this module only
compiles and runs it.

A rule is a pattern of space-separated elements, matched against the words of one clause:

``{class}``   one entry of the language's word class (an entry may be several words)
``{class}?``  the same, optional
``word``      that word (folded: lower case, no accents; "m'envoyer" is the two words "m envoyer")
``...``       up to three words of anything
``$``         the end of the clause, with only filler words before it
``^``         (first only) the start of the clause, with only filler words after it

A match counts unless a negation cue of the rule's language stands right before it in the same
clause, or before it with only "bridge" words between (at most five: "I don't *want you to* stop
texting me"). Any other word ends the negation's reach ("I'm not interested, stop texting me"
has a comma; "not interested stop texting me" has "interested"). That is how "don't stop
texting me" is not a revocation while "don't text me" is: there the negation is part of the
rule itself ("{neg} {contact} me"), so it is matched, not looked back at. A rhetorical word
right before the cue ("*why* won't you stop texting me") makes it a demand, not a negation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from smsconsent.domain.classification import Classification, Intent, PolicyError
from smsconsent.domain.normalize import fold, words

_GAP = 3
_NEGATION_REACH = 5
_WORDS, _OPTIONAL, _ANY, _END = range(4)


@dataclass(frozen=True, slots=True)
class _Element:
    """One pattern element; ``by_first`` indexes its word options by their first word, so a
    class of twenty entries costs one dict lookup per position, not twenty comparisons."""

    kind: int
    options: tuple[tuple[str, ...], ...] = ()
    by_first: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    @classmethod
    def words(cls, kind: int, options: tuple[tuple[str, ...], ...]) -> _Element:
        index: dict[str, list[tuple[str, ...]]] = {}
        for option in options:  # longest first, as _split orders them
            index.setdefault(option[0], []).append(option)
        return cls(kind, options, {first: tuple(group) for first, group in index.items()})


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its elements, what may start it and what cancels it."""

    name: str
    language: str | None
    intent: Intent
    elements: tuple[_Element, ...]
    firsts: frozenset[str]
    negation: tuple[tuple[str, ...], ...]
    bridges: frozenset[str]
    rhetorical: frozenset[str]
    anchored: bool = False  # ``^``: only filler words may come before the match in its clause


def _split(entries: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted({tuple(words(fold(e))) for e in entries if words(fold(e))}, key=len))[::-1]


def compile_rule(
    name: str,
    pattern: str,
    intent: Intent,
    language: str | None,
    classes: Mapping[str, tuple[str, ...]],
    negation_words: tuple[Iterable[str], Iterable[str], Iterable[str]],
) -> CompiledRule:
    """Compile one pattern; an unknown class or a pattern that can start anywhere is an error.

    ``negation_words`` is (negation cues, bridge words, rhetorical words) of the rule's language.
    """
    negation, bridges, rhetorical = negation_words
    elements: list[_Element] = []
    parts = pattern.split()
    anchored = bool(parts) and parts[0] == "^"
    for part in parts[1:] if anchored else parts:
        if part == "...":
            elements.append(_Element(_ANY))
        elif part == "$":
            elements.append(_Element(_END))
        elif part == "^":
            raise PolicyError(f"rule {name!r}: ^ may only start a pattern")
        elif part.startswith("{"):
            optional = part.endswith("?")
            class_name = part.strip("{}?")
            if class_name not in classes:
                raise PolicyError(f"rule {name!r}: unknown word class {{{class_name}}}")
            kind = _OPTIONAL if optional else _WORDS
            elements.append(_Element.words(kind, _split(classes[class_name])))
        else:
            elements.append(_Element.words(_WORDS, _split([part])))
    if not elements or elements[0].kind != _WORDS or not elements[0].options:
        raise PolicyError(f"rule {name!r}: a pattern must start with a required word or class")
    return CompiledRule(
        name=name,
        language=language,
        intent=intent,
        elements=tuple(elements),
        firsts=frozenset(option[0] for option in elements[0].options),
        negation=_split(negation),
        bridges=frozenset(w for b in bridges for w in words(fold(b))),
        rhetorical=frozenset(w for b in rhetorical for w in words(fold(b))),
        anchored=anchored,
    )


class PhraseReader:
    """Runs a policy's rules over a message's clauses; rules are tried in the order given."""

    __slots__ = ("_by_first", "_fillers")

    def __init__(self, rules: Iterable[CompiledRule], filler_words: Iterable[str]) -> None:
        by_first: dict[str, list[CompiledRule]] = {}
        for rule in rules:
            for first in rule.firsts:
                by_first.setdefault(first, []).append(rule)
        self._by_first = by_first
        self._fillers = frozenset(filler_words)

    def read(self, clauses: list[list[str]]) -> Classification | None:
        """The first unnegated match, preferring an opt-out over any other intent.

        When every match was negated, a ``none`` reading that says so ("... matched "stop
        texting me" but "don t" negates it"), so an auditor sees the near miss.
        """
        first: Classification | None = None
        negated: Classification | None = None
        by_first = self._by_first
        for clause in clauses:
            tokens = tuple(clause)
            for start, token in enumerate(tokens):
                for rule in by_first.get(token, ()):
                    if rule.anchored and not self._only_fillers(tokens[:start]):
                        continue
                    end = self._match(rule.elements, 0, tokens, start)
                    if end < 0:
                        continue
                    cue = _negation(rule, tokens, start)
                    if cue is not None:
                        negated = negated or _negated_reading(rule, tokens[start:end], cue)
                        continue
                    found = _classification(rule, tokens[start:end])
                    if found.intent is Intent.OPT_OUT:
                        return found
                    first = first or found
        return first or negated

    def _match(
        self, elements: tuple[_Element, ...], k: int, tokens: tuple[str, ...], i: int
    ) -> int:
        """The end of a match of ``elements[k:]`` at ``tokens[i:]``, or -1 (backtracking)."""
        if k == len(elements):
            return i
        element = elements[k]
        if element.kind == _END:
            return i if self._only_fillers(tokens[i:]) else -1
        if element.kind == _ANY:
            for j in range(i, min(len(tokens), i + _GAP) + 1):
                end = self._match(elements, k + 1, tokens, j)
                if end >= 0:
                    return end
            return -1
        if i < len(tokens):
            for option in element.by_first.get(tokens[i], ()):
                size = len(option)
                if size == 1 or tokens[i : i + size] == option:
                    end = self._match(elements, k + 1, tokens, i + size)
                    if end >= 0:
                        return end
        if element.kind == _OPTIONAL:
            return self._match(elements, k + 1, tokens, i)
        return -1


    def _only_fillers(self, tokens: tuple[str, ...]) -> bool:
        return all(t in self._fillers or t.isdigit() for t in tokens)


def _negation(rule: CompiledRule, tokens: tuple[str, ...], start: int) -> tuple[str, ...] | None:
    """The negation cue ending at ``start``, or before it with only bridge words between."""
    position = start
    for _ in range(_NEGATION_REACH + 1):
        for cue in rule.negation:
            size = len(cue)
            if position >= size and tokens[position - size : position] == cue:
                before = position - size - 1
                return cue if before < 0 or tokens[before] not in rule.rhetorical else None
        if position == 0 or tokens[position - 1] not in rule.bridges:
            return None
        position -= 1
    return None


def _negated_reading(
    rule: CompiledRule, matched: tuple[str, ...], cue: tuple[str, ...]
) -> Classification:
    return Classification(
        intent=Intent.NONE,
        explanation=f'{_rule_label(rule)} matched "{" ".join(matched)}" but '
        f'"{" ".join(cue)}" before it negates it',
    )


def _rule_label(rule: CompiledRule) -> str:
    if rule.language is None:
        return f'workspace phrase "{rule.name}"'
    return f'phrase rule "{rule.name}" ({rule.language})'


def _classification(rule: CompiledRule, matched: tuple[str, ...]) -> Classification:
    text = " ".join(matched)
    return Classification(
        intent=rule.intent,
        match="phrase",
        keyword=text,
        language=rule.language,
        explanation=f'{_rule_label(rule)}: "{text}"',
    )
