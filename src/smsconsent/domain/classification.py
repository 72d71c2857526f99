"""What an inbound text means: the value the classifier returns and the policy it obeys.

Kept apart from the matching code so the ledger, the gate and the adapters can speak of an
intent without importing the matcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


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


@dataclass(frozen=True)
class KeywordPolicy:
    """A workspace's choices about reading inbound texts (seeds 001, 002, 004).

    ``matching``: ``standard`` tolerates formatting noise and reads plain-language revocation;
    ``strict`` (PivotCX) accepts only a listed keyword that is the whole message.
    ``extra``/``replace`` add to or replace the default keyword set of an intent;
    ``phrases`` adds plain-language phrases per intent; ``list_keywords`` maps a keyword to the
    contact list it leaves. A workspace's own keyword wins over a default spelled the same.
    """

    matching: Matching = "standard"
    yes_opts_in: bool = True
    languages: tuple[str, ...] = ("en", "es", "fr", "pt")
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    replace: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    list_keywords: Mapping[str, str] = field(default_factory=dict)
