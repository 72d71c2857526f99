"""Keyword sets and the "keyword standing alone" reading.

A keyword counts when it is the message: nothing else is there but polite fillers ("please",
"thanks", "ok"), repeats of keywords, a number (an ID or code the sender copied), or, for an
opt-out, the thing to stop ("STOP ads", "stop all messages"). That is how a person reads "STOP.
Thank you" or "stop stop STOP", and it is why "We have got to STOP this bill" is not an opt-out.

Keywords are compared by their compact identity (``normalize.compact``): folded letters and digits
with separators removed. Words of the message are joined while looking them up, so "S T O P",
"s.t.o.p", "opt-out" and "Stop 2 quit" find STOP, OPT OUT and STOP2QUIT. At each position the
longest known entry wins, which is how a workspace's "STOP DEALS" beats "STOP" + "deals".

Precedence, documented in docs/keywords.md: a workspace's list keyword beats its own extra
keywords, which beat the default sets; among default sets the language listed first in the
policy wins ("CANCELAR" is reported as Spanish unless a Portuguese filler says otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from smsconsent.domain.classification import (
    INTENT_SETS,
    Classification,
    Intent,
    KeywordPolicy,
)
from smsconsent.domain.languages import LanguageData
from smsconsent.domain.normalize import compact

_FILLER: Final = "filler"
_OBJECT: Final = "object"
# When keywords of different intents stand together, the first of these wins: an opt-out is
# never lost, and HELP (which changes nothing) beats an opt-in.
_PRECEDENCE = (Intent.OPT_OUT, Intent.HELP, Intent.OPT_IN)
_MAX_JOIN = 12
_LONG_RUN = re.compile(r"([a-z])\1{2,}")
_LAST_RUN = re.compile(r"([a-z])\1+$")


@dataclass(frozen=True, slots=True)
class KeywordEntry:
    """What a keyword means: its intent, reported name, language, contact list and origin."""

    intent: Intent
    name: str
    language: str | None
    list: str | None
    source: str
    other_languages: tuple[str, ...] = ()


class KeywordTable:
    """The keywords, fillers and objects of one policy, indexed by compact identity."""

    __slots__ = ("_entries", "_filler_languages", "_max_len", "_pieces", "_strict")

    def __init__(self, policy: KeywordPolicy, languages: tuple[LanguageData, ...]) -> None:
        entries: dict[str, KeywordEntry] = {}
        strict: dict[str, str] = {}
        pieces: dict[str, KeywordEntry | str] = {}
        filler_languages: dict[str, str] = {}

        def add(spelling: str, entry: KeywordEntry, override: bool) -> None:
            key = compact(spelling)
            existing = entries.get(key)
            if existing is None or override:
                entries[key] = entry
            elif entry.language and entry.language != existing.language:
                other = (*existing.other_languages, entry.language)
                entries[key] = replace(existing, other_languages=other)
            strict[" ".join(spelling.split()).casefold()] = key

        for data in languages:
            for intent in INTENT_SETS:
                if intent in policy.replace:
                    continue
                spellings = data.keywords[intent]
                if intent == "opt_in" and policy.yes_opts_in:
                    spellings += data.yes
                canonical: dict[str, str] = {}
                for spelling in spellings:
                    name = canonical.setdefault(compact(spelling), spelling)
                    source = f"{data.code} {intent.replace('_', '-')} set"
                    entry = KeywordEntry(Intent(intent), name, data.code, None, source)
                    add(spelling, entry, False)
            _add_misspellings(entries, data)
            for filler in data.fillers:
                filler_languages.setdefault(compact(filler), data.code)
                pieces[compact(filler)] = _FILLER
            for obj in data.objects:
                pieces[compact(obj)] = _OBJECT
                for det in data.determiners:
                    pieces[compact(f"{det} {obj}")] = _OBJECT
        _add_cyrillic_es_aliases(entries)
        for sets in (policy.replace, policy.extra):
            for intent, spellings in sets.items():
                for spelling in spellings:
                    entry = KeywordEntry(Intent(intent), spelling, None, None, "workspace")
                    add(spelling, entry, True)
        for spelling, list_name in policy.list_keywords.items():
            entry = KeywordEntry(Intent.OPT_OUT, spelling, None, list_name, "workspace list")
            add(spelling, entry, True)

        pieces.update(entries)
        self._entries = entries
        self._pieces = pieces
        self._strict = strict
        self._max_len = max(map(len, pieces), default=0)
        self._filler_languages = filler_languages

    def spellings(self) -> list[str]:
        """Every keyword spelling this policy accepts in strict mode (for precomputing)."""
        return list(self._strict)

    def read_strict(self, body: str) -> Classification | None:
        """PivotCX matching: a listed spelling that is the whole body, ignoring case and the
        whitespace around and between its words; nothing else is folded."""
        key = self._strict.get(" ".join(body.split()).casefold())
        if key is None:
            return None
        entry = self._entries[key]
        return _classification(entry, entry.language, "matched exactly (strict matching)")

    def read_alone(self, words: list[str]) -> Classification | None:
        """The keyword reading of a message's words, or None when anything else is there."""
        pieces, max_len = self._pieces, self._max_len
        hits: list[tuple[KeywordEntry, str]] = []
        ignored: list[str] = []
        has_object = False
        i, n = 0, len(words)
        while i < n:
            best: KeywordEntry | str | None = None
            best_end = i
            joined = ""
            for j in range(i, min(n, i + _MAX_JOIN)):
                joined += words[j]
                if len(joined) > max_len:
                    break
                piece = pieces.get(joined)
                if piece is not None:
                    best, best_end = piece, j + 1
            if best is None:
                stretched = self._stretched(words[i])
                if stretched is not None:
                    hits.append((stretched, words[i]))
                    i += 1
                    continue
                if not words[i].isdigit():
                    return None
                ignored.append(words[i])
                i += 1
                continue
            span = " ".join(words[i:best_end])
            if isinstance(best, KeywordEntry):
                hits.append((best, span))
            else:
                has_object = has_object or best == _OBJECT
                ignored.append(span)
            i = best_end
        if not hits:
            return None
        entry, sent_as = _winner(hits)
        if has_object and entry.intent is not Intent.OPT_OUT:
            return None
        language, hint = self._language_of(entry, ignored)
        detail = "stood alone" if not ignored else f"stood alone beside: {', '.join(ignored)}"
        if hint:
            detail += f'; language {language} from "{hint}"'
        if sent_as != entry.name.casefold():
            detail = f'(sent as "{sent_as}") {detail}'
        return _classification(entry, language, detail)

    def _stretched(self, word: str) -> KeywordEntry | None:
        """A keyword typed with a held-down key: "STOPPP", "stoooop", "Yesss", "stopalll". Runs
        of three or more of one letter become one (or two), and a doubled last letter becomes
        one; a plain double inside a word stays ("stoop" is a word, not STOP)."""
        if len(word) < 3 or word.isdigit():
            return None
        squeezed = _LONG_RUN.sub(r"\1", word)
        for candidate in (squeezed, _LAST_RUN.sub(r"\1", squeezed), _LONG_RUN.sub(r"\1\1", word)):
            if candidate != word:
                entry = self._entries.get(candidate)
                if entry is not None:
                    return entry
        return None

    def near_miss(self, words: list[str]) -> Classification | None:
        """A ``none`` reading naming a keyword that is present but not alone ("The END"), so an
        auditor or a console can see why the message was not taken as an opt-out."""
        for word in words:
            entry = self._entries.get(word)
            if entry is not None:
                others = [w for w in words if w not in self._pieces and not w.isdigit()]
                return Classification(
                    intent=Intent.NONE,
                    explanation=f'keyword "{entry.name}" is not alone in the message '
                    f"(also: {', '.join(others[:6])})",
                )
        return None

    def _language_of(self, entry: KeywordEntry, ignored: list[str]) -> tuple[str | None, str]:
        """The keyword's language; for a word several languages share, a filler may decide."""
        if entry.other_languages:
            for word in ignored:
                hint = self._filler_languages.get(word.replace(" ", ""))
                if hint in entry.other_languages:
                    return hint, word
        return entry.language, ""


def _add_misspellings(entries: dict[str, KeywordEntry], data: LanguageData) -> None:
    """Common misspellings of a language's keywords ("UNSUSCRIBE") find the keyword in standard
    matching only: strict matching reads the spellings as listed, nothing more. A misspelling
    never shadows a real keyword, and a keyword set the policy replaced brings none."""
    for keyword, variants in data.misspellings.items():
        entry = entries.get(compact(keyword))
        if entry is None or entry.language != data.code:
            continue
        for variant in variants:
            entries.setdefault(compact(variant), entry)


def _add_cyrillic_es_aliases(entries: dict[str, KeywordEntry]) -> None:
    """Let "ctop" find STOP: folding maps the Cyrillic letter Es (U+0421) to "c" by its shape,
    but people who type it in "STOP" mean an S. Only English default keywords get the alias (in
    Portuguese "sair" would become the real word "cair"), and only where it collides with
    nothing, so a workspace keyword is never shadowed."""
    for key, entry in list(entries.items()):
        if entry.language != "en":
            continue
        for index, letter in enumerate(key):
            if letter == "s":
                entries.setdefault(key[:index] + "c" + key[index + 1 :], entry)
        entries.setdefault(key.replace("s", "c"), entry)


def _winner(hits: list[tuple[KeywordEntry, str]]) -> tuple[KeywordEntry, str]:
    """The hit whose intent ranks first; a full opt-out beats a list opt-out."""
    for intent in _PRECEDENCE:
        of_intent = [hit for hit in hits if hit[0].intent is intent]
        if of_intent:
            full = [hit for hit in of_intent if hit[0].list is None]
            return (full or of_intent)[0]
    raise AssertionError("a hit always has one of the three intents")


def _classification(entry: KeywordEntry, language: str | None, detail: str) -> Classification:
    if entry.list is not None:
        what = f'workspace list keyword "{entry.name}" (leaves list "{entry.list}")'
    elif entry.source == "workspace":
        what = f'workspace {entry.intent.value.replace("_", "-")} keyword "{entry.name}"'
    else:
        what = f'keyword "{entry.name}" from the {entry.source}'
    return Classification(
        intent=entry.intent,
        match="keyword",
        keyword=entry.name,
        language=language,
        list=entry.list,
        explanation=f"{what} {detail}",
    )
