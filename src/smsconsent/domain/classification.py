"""What an inbound text means: the value the classifier returns and the policy it obeys.

Kept apart from the matching code so the ledger, the gate and the adapters can speak of an
intent without importing the matcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from smsconsent.errors import BadInput


class Intent(StrEnum):
    """What the sender asked for. Stable strings: they are stored in the ledger."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    NONE = "none"


MatchKind = Literal["keyword", "phrase"]
Matching = Literal["standard", "strict"]


@dataclass(frozen=True, slots=True)
class Classification:
    """The reading of one inbound body, with enough detail for an auditor to follow it.

    ``keyword`` is the canonical keyword or phrase rule that matched (``"STOP"``, ``"OPT OUT"``,
    ``"stop texting me"``); ``list`` names the contact list when a list keyword matched, in which
    case the opt-out concerns that list only.
    """

    intent: Intent
    match: MatchKind | None = None
    keyword: str | None = None
    language: str | None = None
    list: str | None = None
    explanation: str = "no keyword or revocation phrase found"

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent.value,
            "match": self.match,
            "keyword": self.keyword,
            "language": self.language,
            "list": self.list,
            "explanation": self.explanation,
        }


INTENT_SETS = ("opt_out", "opt_in", "help")
"""The intents a workspace may name keyword sets and phrases for, in the order they are written."""

_POLICY_KEYS = frozenset({"matching", "yes_opts_in", "languages", "phrases", "lists", *INTENT_SETS})


class PolicyError(BadInput):
    """A keyword policy (from a file, the database or code) that cannot be used as written."""


def _words_of(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where} must be a list of strings")
    for item in value:
        if not any(ch.isalnum() for ch in item):
            raise PolicyError(f"{where}: {item!r} has no letters or digits")
    return tuple(value)


def _sets_of(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where} must be a table of intent -> list of strings")
    result: dict[str, tuple[str, ...]] = {}
    for intent, items in value.items():
        if intent not in INTENT_SETS:
            raise PolicyError(f"{where}: unknown intent {intent!r} (use {', '.join(INTENT_SETS)})")
        result[intent] = _words_of(items, f"{where}.{intent}")
    return result


@dataclass(frozen=True)
class KeywordPolicy:
    """A workspace's choices about reading inbound texts (seeds 001, 002, 004).

    ``matching``: ``standard`` tolerates formatting noise and reads plain-language revocation;
    ``strict`` (PivotCX) accepts only a listed keyword that is the whole message.
    ``extra``/``replace`` add to or replace the default keyword set of an intent;
    ``phrases``/``replace_phrases`` do the same for plain-language phrases (replacing the
    ``opt_out`` phrases with an empty tuple switches plain-language reading off);
    ``list_keywords`` maps a keyword to the contact list it leaves. A workspace's own keyword
    wins over a default spelled the same. ``yes_opts_in`` makes YES an opt-in keyword (off for
    toll-free numbers).

    Values are normalised on construction (lists become tuples, empty additions are dropped), so
    two policies that read messages the same way compare equal and ``from_dict(p.to_dict()) == p``.
    """

    matching: Matching = "standard"
    yes_opts_in: bool = True
    languages: tuple[str, ...] = ("en", "es", "fr", "pt")
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    replace: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    replace_phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    list_keywords: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.matching not in ("standard", "strict"):
            raise PolicyError(f"matching must be 'standard' or 'strict', not {self.matching!r}")
        if not isinstance(self.yes_opts_in, bool):
            raise PolicyError("yes_opts_in must be true or false")
        languages = _words_of(self.languages, "languages")
        if not languages:
            raise PolicyError("languages must name at least one language")
        extra = {k: v for k, v in _sets_of(self.extra, "extra").items() if v}
        phrases = {k: v for k, v in _sets_of(self.phrases, "phrases").items() if v}
        if not isinstance(self.list_keywords, Mapping):
            raise PolicyError("lists must be a table of keyword -> list name")
        lists: dict[str, str] = {}
        for keyword, name in self.list_keywords.items():
            if not isinstance(name, str) or not name.strip():
                raise PolicyError(f"lists.{keyword}: the list name must be a non-empty string")
            lists[_words_of([keyword], "lists")[0]] = name
        for phrase in (p for group in phrases.values() for p in group):
            if "{" in phrase or "}" in phrase:
                raise PolicyError(f"phrase {phrase!r}: workspace phrases are literal words")
        set_ = object.__setattr__
        set_(self, "languages", languages)
        set_(self, "extra", extra)
        set_(self, "replace", _sets_of(self.replace, "replace"))
        set_(self, "phrases", phrases)
        set_(self, "replace_phrases", _sets_of(self.replace_phrases, "replace_phrases"))
        set_(self, "list_keywords", lists)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeywordPolicy:
        """Build a policy from its stored or hand-written form (docs/keywords.md, "Policy files").

        ``{"matching": "standard", "yes_opts_in": true, "languages": ["en", "es"],
        "opt_out": {"add": [...], "replace": [...]}, "opt_in": {...}, "help": {...},
        "phrases": {"opt_out": {"add": [...], "replace": [...]}},
        "lists": {"OPTOUT": "marketing"}}``.
        Every key is optional; a bare list stands for ``{"add": [...]}``. Unknown keys are errors,
        so a typo never silently leaves a workspace on the defaults.
        """
        if not isinstance(data, Mapping):
            raise PolicyError("a keyword policy must be a table (JSON object)")
        unknown = sorted(set(data) - _POLICY_KEYS)
        if unknown:
            raise PolicyError(f"unknown policy key(s): {', '.join(map(str, unknown))}")
        extra: dict[str, Any] = {}
        replace: dict[str, Any] = {}
        for intent in INTENT_SETS:
            if intent in data:
                _split_add_replace(data[intent], intent, intent, extra, replace)
        phrases: dict[str, Any] = {}
        replace_phrases: dict[str, Any] = {}
        phrase_tables = data.get("phrases", {})
        if not isinstance(phrase_tables, Mapping):
            raise PolicyError("phrases must be a table of intent -> {add, replace}")
        for intent, value in phrase_tables.items():
            if intent not in INTENT_SETS:
                raise PolicyError(f"phrases: unknown intent {intent!r}")
            _split_add_replace(value, intent, f"phrases.{intent}", phrases, replace_phrases)
        policy = cls(
            matching=data.get("matching", "standard"),
            yes_opts_in=data.get("yes_opts_in", True),
            languages=data.get("languages", cls.languages),
            extra=extra,
            replace=replace,
            phrases=phrases,
            replace_phrases=replace_phrases,
            list_keywords=data.get("lists", {}),
        )
        from smsconsent.domain.languages import available_languages  # data about the data files

        missing = [code for code in policy.languages if code not in available_languages()]
        if missing:
            raise PolicyError(f"no keyword data for language(s): {', '.join(missing)}")
        return policy

    def to_dict(self) -> dict[str, Any]:
        """The canonical stored form: JSON-ready, and ``from_dict`` gives back an equal policy."""
        out: dict[str, Any] = {
            "matching": self.matching,
            "yes_opts_in": self.yes_opts_in,
            "languages": list(self.languages),
        }
        for intent in INTENT_SETS:
            table = _add_replace_table(self.extra, self.replace, intent)
            if table:
                out[intent] = table
        phrases = {}
        for intent in INTENT_SETS:
            table = _add_replace_table(self.phrases, self.replace_phrases, intent)
            if table:
                phrases[intent] = table
        if phrases:
            out["phrases"] = phrases
        if self.list_keywords:
            out["lists"] = dict(self.list_keywords)
        return out


def _split_add_replace(
    value: object, intent: str, where: str, add: dict[str, Any], replace: dict[str, Any]
) -> None:
    if isinstance(value, list):
        add[intent] = value
        return
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where} must be a list or a table with 'add' and/or 'replace'")
    unknown = sorted(set(value) - {"add", "replace"})
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    if "add" in value:
        add[intent] = _words_of(value["add"], f"{where}.add")
    if "replace" in value:
        replace[intent] = _words_of(value["replace"], f"{where}.replace")


def _add_replace_table(
    add: Mapping[str, tuple[str, ...]], replace: Mapping[str, tuple[str, ...]], intent: str
) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    if intent in add:
        table["add"] = list(add[intent])
    if intent in replace:
        table["replace"] = list(replace[intent])
    return table


DEFAULT_POLICY = KeywordPolicy()
"""Standard matching, YES opts in, English, Spanish, French and Portuguese."""
