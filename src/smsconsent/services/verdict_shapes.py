"""Stored texts of one shape judged without reading them as JSON: imported opt-outs.

A real opt-out export gives every contact its own time, so every stored text is new to the
verdict memo and was read whole (``orjson``, then a walk in Python: ~2.5 us a text, 1.6 s of
a million-row filter). But an imported opt-out's text is the same text as any other of the
same import but for two times: ``{"consents":{KEY:{"by":..,"method":..,"opted_out_at":T1,
"source":..,"status":"opted_out"}},"last_at":T2}``. A ``Shape`` is learnt from one such text
judged the full way: what comes before, between and after the two times. Another text of the
same length that has those very characters there, and only the characters of a time
(``0-9 - : . T Z``, so neither a quote nor an escape) in the two places, is the same JSON with
two other strings: its verdict is the learnt one, with the first time in the detail where the
learnt text had its own. All of it is tested with C calls over a chunk's new texts at once
(``take``). ``tests/unit/test_filter_judge.py`` holds ``Judge.many`` to ``Judge.stored``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import compress, repeat
from operator import add, and_, contains, eq, getitem, not_, or_
from typing import Any, cast

from smsconsent.domain.consent import OPTED_OUT

Verdict = tuple[bool, str, str]  # allowed, reason, detail
_TIME = str.maketrans("", "", "0123456789-:.TZ")  # a time's characters, deleted
_FIELDS = {"by", "method", "opted_out_at", "source", "status"}
SHAPES = 8  # shapes learnt in a run, at most


class Shape:
    """Texts that differ from a learnt one only in its two times (see the module)."""

    def __init__(self, text: str, first: int, second: int, width: tuple[int, int],
                 verdict: Verdict, detail_head: str | None) -> None:
        self.length = len(text)
        self.first, self.second = slice(first, first + width[0]), slice(second, second + width[1])
        self.head, self.middle = text[:first], text[first + width[0]:second]
        self.tail = text[second + width[1]:]
        self.verdict, self.detail_head = verdict, detail_head

    def take(self, texts: list[str]) -> tuple[dict[str, Verdict], list[str]]:
        """The verdicts of those of ``texts`` that have this shape, and the others."""
        found = list(compress(texts, map(eq, map(len, texts), repeat(self.length))))
        found = list(compress(found, map(str.startswith, found, repeat(self.head))))
        found = list(compress(found, map(str.startswith, found, repeat(self.middle),
                                         repeat(self.first.stop))))
        found = list(compress(found, map(str.endswith, found, repeat(self.tail))))
        if not found:
            return {}, texts
        firsts = cast(list[str], list(map(getitem, found, repeat(self.first))))
        seconds = cast(list[str], list(map(getitem, found, repeat(self.second))))
        keep = list(map(and_, _plain(firsts), _plain(seconds)))
        if not all(keep):
            found, firsts = list(compress(found, keep)), list(compress(firsts, keep))
        if self.detail_head is None:
            verdicts: Any = repeat(self.verdict)
        else:
            allowed, reason, _ = self.verdict
            details = map(add, map(add, repeat(self.detail_head), firsts), repeat(")"))
            verdicts = zip(repeat(allowed), repeat(reason), details)
        taken = dict(zip(found, verdicts, strict=False))  # verdicts: endless or as many
        if len(taken) == len(texts):
            return taken, []
        return taken, list(compress(texts, map(not_, map(taken.__contains__, texts))))


def _plain(values: list[str]) -> Iterator[bool]:
    """Whether each value can be a JSON string's text as it is: printable ASCII, no quote and
    no backslash (an escape). C calls over the list, no Python call a value."""
    return map(and_, map(and_, map(str.isascii, values), map(str.isprintable, values)),
               map(not_, map(or_, map(contains, values, repeat('"')),
                             map(contains, values, repeat("\\")))))


def learn(text: str, data: Any, verdict: Verdict) -> Shape | None:
    """The shape of ``text`` (read as ``data``, judged ``verdict``) if it is an imported
    opt-out's: one consent, opted out, its five fields, and the state's last time."""
    if not isinstance(data, dict) or data.keys() != {"consents", "last_at"}:
        return None
    consents = data["consents"]
    if not isinstance(consents, dict) or len(consents) != 1:
        return None
    ((key, consent),) = consents.items()
    if not isinstance(consent, dict) or consent.keys() != _FIELDS \
            or consent["status"] != OPTED_OUT:
        return None
    times = consent["opted_out_at"], data["last_at"]
    if not all(isinstance(time, str) and time and not time.translate(_TIME) for time in times):
        return None
    first = _only(text, f'"opted_out_at":"{times[0]}"', len('"opted_out_at":"'))
    second = _only(text, f'"last_at":"{times[1]}"', len('"last_at":"'))
    if first is None or second is None or first + len(times[0]) > second:
        return None
    detail_head = None
    if verdict[1] == OPTED_OUT:  # the detail ends with the time of the opt-out
        if not verdict[2].endswith(f" ({key}, {consent['method']}, {times[0]})"):
            return None
        detail_head = verdict[2][:-len(times[0]) - 1]
    return Shape(text, first, second, (len(times[0]), len(times[1])), verdict, detail_head)


def _only(text: str, part: str, skip: int) -> int | None:
    """Where the value in ``part`` starts in ``text``, if ``part`` is there once."""
    at = text.find(part)
    if at < 0 or text.find(part, at + 1) >= 0:
        return None
    return at + skip


def judged(texts: list[str], shapes: list[Shape], stored: Callable[[str], Verdict]
           ) -> tuple[dict[str, Verdict], list[str]]:
    """The verdicts on new ``texts``: by a shape where one fits, else by ``stored`` (those
    texts are returned too, to learn from)."""
    fresh: dict[str, Verdict] = {}
    rest = texts
    for shape in shapes:
        if not rest:
            break
        taken, rest = shape.take(rest)
        fresh.update(taken)
    fresh.update(zip(rest, map(stored, rest), strict=True))
    return fresh, rest

