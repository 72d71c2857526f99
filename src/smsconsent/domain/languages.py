"""The per-language keyword sets and revocation grammar, read from the package's TOML data.

Languages are data, not code, so that adding one (say ``de.toml`` with STOPP, ABMELDEN, HILFE)
needs no change here: drop a file in ``smsconsent/domain/data/`` and name it in a policy's
``languages``. The files ship inside the package and are read with ``importlib.resources``, so
this stays free of file-system I/O in the ordinary sense; each file is parsed once per process.
The format is described in docs/keywords.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from smsconsent.domain.classification import INTENT_SETS, Intent, PolicyError

_DATA_PACKAGE = "smsconsent.domain.data"


@dataclass(frozen=True, slots=True)
class Rule:
    """One plain-language revocation rule: a name an auditor reads and a pattern (revocation.py)."""

    name: str
    pattern: str
    intent: Intent


@dataclass(frozen=True, slots=True)
class LanguageData:
    """Everything one language contributes: keyword sets per intent, the words that may stand
    beside a keyword, and the phrase grammar (word classes and rules)."""

    code: str
    keywords: Mapping[str, tuple[str, ...]]
    yes: tuple[str, ...]
    fillers: tuple[str, ...]
    objects: tuple[str, ...]
    determiners: tuple[str, ...]
    negation: tuple[str, ...]
    bridges: tuple[str, ...]
    rhetorical: tuple[str, ...]
    misspellings: Mapping[str, tuple[str, ...]]
    classes: Mapping[str, tuple[str, ...]]
    rules: tuple[Rule, ...]


@cache
def available_languages() -> tuple[str, ...]:
    """The language codes that have a data file, sorted."""
    root = resources.files(_DATA_PACKAGE)
    return tuple(
        sorted(item.name[:-5] for item in root.iterdir() if item.name.endswith(".toml"))
    )


def _misspellings(reading: Mapping[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    table = reading.get("misspellings", {})
    if not isinstance(table, dict):
        raise PolicyError(f"{where}.misspellings must be a table of keyword = [spellings]")
    return {keyword: _strings(table, keyword, f"{where}.misspellings") for keyword in table}


def _strings(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}.{key} must be a list of strings")
    return tuple(value)


@cache
def load_language(code: str) -> LanguageData:
    """Parse ``data/<code>.toml``; a malformed file raises ``PolicyError`` naming the key."""
    if code not in available_languages():
        raise PolicyError(f"no keyword data for language {code!r}")
    raw = tomllib.loads(resources.files(_DATA_PACKAGE).joinpath(f"{code}.toml").read_text("utf-8"))
    where = f"{code}.toml"
    if raw.get("language") != code:
        raise PolicyError(f"{where}: 'language' must be {code!r}")
    keywords = raw.get("keywords", {})
    reading = raw.get("reading", {})
    classes = raw.get("classes", {})
    rules = []
    for index, rule in enumerate(raw.get("rules", [])):
        name, pattern = rule.get("name"), rule.get("pattern")
        if not isinstance(name, str) or not isinstance(pattern, str):
            raise PolicyError(f"{where}: rules[{index}] needs a string name and pattern")
        rules.append(Rule(name, pattern, Intent(rule.get("intent", "opt_out"))))
    misspellings = _misspellings(reading, f"{where} reading")
    listed = {" ".join(k.split()).casefold() for i in INTENT_SETS for k in keywords.get(i, [])}
    for keyword in misspellings:
        if " ".join(keyword.split()).casefold() not in listed:
            raise PolicyError(f"{where}: misspellings of {keyword!r}, which is no keyword here")
    return LanguageData(
        code=code,
        keywords={i: _strings(keywords, i, f"{where} keywords") for i in INTENT_SETS},
        yes=_strings(keywords, "yes", f"{where} keywords"),
        fillers=_strings(reading, "fillers", f"{where} reading"),
        objects=_strings(reading, "objects", f"{where} reading"),
        determiners=_strings(reading, "determiners", f"{where} reading"),
        negation=_strings(reading, "negation", f"{where} reading"),
        bridges=_strings(reading, "bridges", f"{where} reading"),
        rhetorical=_strings(reading, "rhetorical", f"{where} reading"),
        misspellings=misspellings,
        classes={name: _strings(classes, name, f"{where} classes") for name in classes},
        rules=tuple(rules),
    )
