"""A stand-in classifier: whole-message keywords only, so the HTTP branch runs on its own.

The real classifier (formatting noise, plain-language revocation, languages) is built on the
``classifier`` branch; when the branches meet, that file replaces this one. The signature is
the same: ``classify(body, policy) -> Classification``.
"""

from __future__ import annotations

from smsconsent.domain.classification import Classification, Intent, KeywordPolicy

_KEYWORDS: dict[str, Intent] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), Intent.OPT_OUT),
    **dict.fromkeys(("START", "UNSTOP", "YES"), Intent.OPT_IN),
    **dict.fromkeys(("HELP", "INFO"), Intent.HELP),
}


def classify(body: str, policy: KeywordPolicy | None = None) -> Classification:
    """Read ``body`` as one keyword (case and surrounding punctuation ignored)."""
    policy = policy or KeywordPolicy()
    word = " ".join(body.strip().strip(".!?").upper().split())
    lists = {k.upper(): name for k, name in policy.list_keywords.items()}
    if word in lists:
        return Classification(Intent.OPT_OUT, "keyword", word, "en", lists[word],
                              f"list keyword {word} leaves list {lists[word]}")
    intent = _KEYWORDS.get(word)
    if intent is None or (word == "YES" and not policy.yes_opts_in):
        return Classification(Intent.NONE)
    return Classification(intent, "keyword", word, "en", None, f"keyword {word}")
