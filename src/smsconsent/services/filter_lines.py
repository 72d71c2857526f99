"""``filter``'s chunks as lines (``csvlines``): a plain line is never made a row.

A plain line (no quote, the header's width) is its record as the writer would write it, so a
refused one is written as it came plus its reason and detail, and a sendable one as it came
when its number is already in E.164, or with that one field replaced. Its number is the one
field cut out of it. The other records (rows, parsed) go the way ``Part`` takes every row:
made the header's width, their number taken, formatted a column at a time. The answers, and
the bytes written, are ``Part``'s (the exact path's): ``tests/integration/test_filter_exact.py``
compares the two on any file.
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import add, eq, is_, itemgetter, ne, not_
from typing import Any, cast

from smsconsent import csvio
from smsconsent.csvformat import format_records, quote_column
from smsconsent.csvlines import Record, Records, with_field
from smsconsent.services.filtering import Part
from smsconsent.services.verdict_shapes import Verdict
from smsconsent.services.verdicts import _DETAILS

# the records, their phone fields, their numbers (None: refused before the lookup), and why
Lines = tuple[list[Record], list[str], list[str | None], dict[int, tuple[str, str]]]


class LinePart(Part):
    """``Part`` on the records of ``csvlines.LineChunks`` (never ``exact``)."""

    def screen(self, chunk: Any) -> tuple[Any, list[str]]:
        """Rows made the header's width (a long one cut and refused), and ``Part.numbers``
        of every record's phone field."""
        records, texts = cast(Records, chunk)
        width = self.task.width
        whys: dict[int, tuple[str, str]] = {}
        kinds = list(map(type, records))
        for i in (_where(kinds, list) if list in kinds else ()):
            fields = cast(list[str], records[i])
            if len(fields) > width:
                whys[i] = ("bad_row", csvio.with_extra_fields(_DETAILS["bad_row"], fields,
                                                              width))
                records[i] = fields[:width]
            elif len(fields) < width:
                records[i] = csvio.fit(fields, width)
        phones, wanted = self.numbers(texts, whys)
        return (records, texts, phones, whys), wanted

    def count(self, chunk: Any) -> int:
        return len(cast(Records, chunk)[0])

    def finish(self, judged: Any, states: dict[str, str]) -> None:
        """Judge the records (``Judge.many``) and write both outputs in the file's order."""
        records, texts, phones, whys = cast(Lines, judged)
        # a number refused before the lookup is None, which has no stored state
        verdicts = self.judge_.many(list(map(states.get, cast(list[str], phones))))
        for i, (why, detail) in whys.items():
            verdicts[i] = (False, why, detail)
        allowed = list(map(itemgetter(0), verdicts))
        self.out.write_lines(self._sendable(records, texts, phones, allowed))
        refused = list(map(not_, allowed))
        failed = list(compress(verdicts, refused))
        self.reasons.update(map(itemgetter(1), failed))
        self.rejects.write_lines(_refused(list(compress(records, refused)), failed))
        self.report.advance(len(records))

    def _sendable(self, records: list[Record], texts: list[str], phones: list[str | None],
                  allowed: list[bool]) -> list[str]:
        """The sendable records' text: a line as it came unless its number was not written
        in E.164 (then that field is replaced); rows with the number, formatted."""
        at = self.task.phone
        sent = list(compress(records, allowed))
        numbers = cast(list[str], list(compress(phones, allowed)))
        olds = list(compress(texts, allowed))
        kinds = list(map(type, sent))
        rows_at = _where(kinds, list) if list in kinds else []
        for i in rows_at:
            cast(list[str], sent[i])[at] = olds[i] = numbers[i]
        changed = list(compress(range(len(sent)), map(ne, olds, numbers)))
        if changed:
            lines = cast(list[str], list(map(sent.__getitem__, changed)))  # rows: unchanged
            was, now = list(map(olds.__getitem__, changed)), list(map(numbers.__getitem__, changed))
            # a field met once in its line is that field (it holds no comma): replaced in C
            once = map(eq, map(str.count, lines, was), repeat(1))
            for i, line, old, new, alone in zip(changed, lines, was, now, once, strict=False):
                sent[i] = line.replace(old, new, 1) if alone else \
                    with_field(line, self.task.width, at, old, new)
        if rows_at:
            for i, text in zip(rows_at, format_records(list(map(sent.__getitem__, rows_at))),
                               strict=True):
                sent[i] = text
        return cast(list[str], sent)


def _refused(failed: list[Record], verdicts: list[Verdict]) -> list[str]:
    """The refused records' text: a line as it came, rows formatted, each followed by its
    reason and detail (formatted once for each distinct verdict when they repeat, as the
    verdicts on imported opt-outs of one time do, else a column at a time)."""
    if not failed:
        return []
    kinds = list(map(type, failed))
    rows_at = _where(kinds, list) if list in kinds else []
    rows = [cast(list[str], failed[i]) for i in rows_at]
    for i in rows_at:
        failed[i] = ""
    distinct = dict.fromkeys(verdicts)
    if len(distinct) * 8 <= len(verdicts):
        endings = {verdict: "," + ",".join(quote_column(verdict[1:])) for verdict in distinct}
        lines = list(map(add, cast(list[str], failed), map(endings.__getitem__, verdicts)))
    else:
        lines = list(map(",".join, zip(cast(list[str], failed),
                                       quote_column(list(map(itemgetter(1), verdicts))),
                                       quote_column(list(map(itemgetter(2), verdicts))),
                                       strict=True)))
    if rows_at:
        ends = [verdicts[i][1:] for i in rows_at]
        for i, text in zip(rows_at, format_records(rows, ends), strict=True):
            lines[i] = text
    return lines


def _where(kinds: list[type], kind: type) -> list[int]:
    """Where ``kinds`` holds ``kind``."""
    return list(compress(range(len(kinds)), map(is_, kinds, repeat(kind))))
