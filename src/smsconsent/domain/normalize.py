"""Text folding: what a person would call "the same word" becomes the same string.

Senders type keywords on phones that capitalise, autocorrect, insert no-break or zero-width
spaces, wrap words in quotes and emoji, or paste from "fancy text" generators (math-bold,
full-width, look-alike Cyrillic letters). The FCC's 2024 order asks for "any reasonable means"
of revocation to be honoured, so the classifier reads the letters a person sees, not the code
points. Everything here is pure string work: no data files, no I/O.

The pipeline is ``fold`` (one canonical lower-case, accent-free string), ``strip_signature``
(drop a trailing "Sent from my iPhone" or "-- John" block), then ``words`` (letters and digits,
punctuation and emoji dropped) for keyword reading or ``clauses`` (the same words split at
sentence punctuation) for plain-language reading.
"""

from __future__ import annotations

import re
import unicodedata

# Format characters that render as nothing; NFKC keeps them, so they are dropped explicitly.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063"
             "\u2064\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"),
    None,
)

# Lower-case Cyrillic and Greek letters that look like Latin ones (after casefold). Applied only
# to words made of Latin letters and these look-alikes, so real Cyrillic or Greek words that
# contain letters without a Latin twin ("стоп" has "п") are left as they are.
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m",
    "ν": "n", "ο": "o", "ρ": "p", "τ": "t", "υ": "y", "χ": "x",
}  # fmt: skip
_HOMOGLYPH_TABLE = str.maketrans(_HOMOGLYPHS)
_LATIN_OR_LOOKALIKE = frozenset("abcdefghijklmnopqrstuvwxyz") | frozenset(_HOMOGLYPHS)

_LETTER_RUN = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"[^\W\d_]+|\d+")
# Words, or one clause-ending mark. A comma ends a clause too: "No, stop texting me" must not
# read "no" as negating "stop".
_CLAUSE_TOKEN = re.compile(r"[^\W\d_]+|\d+|[.!?;,:\n()\[\]\"]")
_CLAUSE_MARKS = frozenset(".!?;,:\n()[]\"")

# A line that starts a signature block. It must not be the first line: "-- STOP" is a message.
_SIGNATURE_LINE = re.compile(
    r"^(?:-{2,}|[\u2013\u2014]|_{2,}|-\s*[^\W\d_]+(?:\s+[^\W\d_]+){0,2}\s*$|"
    r"sent from |sent via |get outlook|enviado desde |enviado do |enviado de meu |"
    r"envoye de |envoye depuis )"
)


def _map_lookalikes(match: re.Match[str]) -> str:
    word = match.group()
    if word.isascii() or not set(word) <= _LATIN_OR_LOOKALIKE:
        return word
    return word.translate(_HOMOGLYPH_TABLE)


def fold(text: str) -> str:
    """Return ``text`` in the one form keywords are compared in.

    NFKC (full-width, math-bold, ligatures, the long s), invisible characters removed, casefold,
    accents stripped (so "ARRÊT" is "arret" and "não" is "nao"), look-alike letters mapped.
    Plain ASCII, by far the common case, skips the Unicode work.
    """
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _LETTER_RUN.sub(_map_lookalikes, folded)


def strip_signature(folded: str) -> str:
    """Drop a trailing signature block from a folded body.

    Mail-to-SMS gateways and some phones append "Sent from my iPhone"; people sign "-- John".
    Everything from the first such line is removed, provided some words come before it: a
    message that is only "-STOP" on its second line is a message, not a signature.
    """
    if "\n" not in folded:
        return folded
    lines = folded.splitlines()
    for index, line in enumerate(lines):
        if _SIGNATURE_LINE.match(line.strip()) and any(map(_WORD.search, lines[:index])):
            return "\n".join(lines[:index])
    return folded


def words(folded: str) -> list[str]:
    """The runs of letters and the runs of digits, in order; everything else separates them.

    Letters and digits are split apart so that "stop2quit" and "Stop 2 quit" give the same words.
    """
    return _WORD.findall(folded)


def clauses(folded: str) -> list[list[str]]:
    """The words split into clauses at sentence punctuation and line breaks (empty ones dropped).

    Plain-language rules match within one clause, and a negation only reaches forward within
    its clause.
    """
    result: list[list[str]] = []
    current: list[str] = []
    for token in _CLAUSE_TOKEN.findall(folded):
        if token in _CLAUSE_MARKS:
            if current:
                result.append(current)
                current = []
        else:
            current.append(token)
    if current:
        result.append(current)
    return result


def compact(text: str) -> str:
    """A keyword's identity: its folded letters and digits with every separator removed.

    "OPT OUT", "opt-out" and "optout" share the identity "optout"; so do "S.T.O.P" and "STOP".
    """
    return "".join(words(fold(text)))
