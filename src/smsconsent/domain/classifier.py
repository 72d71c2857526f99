"""STUB for the bulk branch only: the classifier branch replaces this file (take theirs).

It reads the bare keywords STOP, START and HELP so the services import and the smoke test runs.
"""

from __future__ import annotations

from smsconsent.domain.classification import Classification, Intent, KeywordPolicy

_BARE = {"STOP": Intent.OPT_OUT, "START": Intent.OPT_IN, "HELP": Intent.HELP}


def classify(body: str, policy: KeywordPolicy) -> Classification:
    word = body.strip().upper()
    intent = _BARE.get(word)
    if intent is None:
        return Classification(Intent.NONE)
    return Classification(intent, "keyword", word, "en", None, f"keyword {word}")
