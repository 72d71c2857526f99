"""A CSV file's records as its lines, where the line alone says what the parser would.

Most lines of a campaign file are written the way ``csv.writer`` writes their fields: no
quote, or quotes only around a field holding a comma. Such a line of as many fields as the
header is exactly its record, both ways: the parser reads its fields from it, and the writer
would write those fields back as the same text. Building its row (a list and a string per
field) and formatting it again took half of a filter's time; here the line stays one string.
A block's quoted fields of that kind are each replaced by one quote (``_unquoted``: one
``re.subn``, and one search for a quote left anywhere else); then every line's fields are its
commas', so its width is its count of commas and its phone field is cut out by ``str.split``.
A block with some other quote is read a line at a time by one regular expression over its
quoted lines (``_canonical``). The other lines (another width, a quoted phone field, a quote
the writer would not write) are parsed by the ``csv`` module, all of a block's in one call,
and stay rows.

That a line is a whole record holds while no quoted field runs across a line end: each
block's parsed lines are parsed with a sentinel line after them, and if any record took more
than one line (or a bare ``\\r`` is met, which ends records but is not split on here) the rest
of the file, from the start of that block, is handed back to the parser (``ChunkReader``), row
by row as before. Blank lines are skipped as the reader skips them. ``tests/unit/
test_csv_lines.py`` holds the records to the parser's rows, and to the writer's text, on any
lines.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Generator, Iterator
from functools import lru_cache
from itertools import compress, repeat
from operator import contains, eq, itemgetter, not_
from typing import cast

from smsconsent.csvio import ChunkReader, _blank, _none_blank

# What ``str.strip`` strips (every character ``str.isspace`` holds, all below U+3001), and the
# comma: a line of these alone has only blank fields.
BLANK = "".join(char for char in map(chr, range(0x3001)) if char.isspace()) + ","
_SENTINEL = "x"  # parsed after a block's parsed lines: it is a row of its own unless swallowed
PLAIN, QUOTED, PARSED = 0, 1, 2  # a line with no quote, with quotes, a row the parser made

Record = str | list[str]  # a line as it came (no line end) or a parsed row
Records = tuple[list[Record], list[str]]  # and each one's phone field


class LineChunks:
    """The records after the header, and their phone fields, in lists of ``size`` (the
    last one shorter).

    ``reader`` has read the header; its text is read here in blocks of whole lines. ``width``
    is the header's, ``at`` where the phone field is.
    """

    def __init__(self, reader: ChunkReader, width: int, at: int) -> None:
        self._reader, self._width, self._at = reader, width, at

    def chunks(self, size: int) -> Generator[Records, None, None]:
        text, pending = self._reader.text, ""
        ready: Records = ([], [])
        chars = max(1 << 16, size * 64)  # then sized by the lines met
        while True:
            got = text.read(chars)
            block = pending + got
            end = block.rfind("\n") if got else len(block)
            if end < 0:  # a line longer than the block: read on
                pending = block
                continue
            pending = block[end + 1:]
            found = self.records(block[:end + 1])
            if found is None:  # a record across lines: the parser takes it from here
                yield from _sized(ready, size, last=True)
                # up to a line end: the parser ends a record at the end of each text it is
                # given, so a line cut by the block would be read as two records
                self._reader.resume(block + text.readline())
                for rows in self._reader.chunks(size):
                    yield cast(list[Record], rows), _fields(rows, self._at)
                return
            ready[0].extend(found[0])
            ready[1].extend(found[1])
            yield from _sized(ready, size, last=not got)
            if not got:
                return
            if found[0]:
                chars = max(1 << 16, size * (end // len(found[0]) + 2))

    def records(self, body: str) -> Records | None:
        """The records of whole lines (``body`` ends with a line end, but at the end of the
        file) and their phone fields, or None when a record runs across lines or a ``\\r`` is
        not part of a ``\\r\\n``."""
        if "\r" in body:
            body = body.replace("\r\n", "\n")
            if "\r" in body:
                return None
        if body.endswith("\n"):
            body = body[:-1]
        lines = body.split("\n")
        bare = lines
        if '"' in body:
            shown = _unquoted(body)
            if shown is None:  # a quote the writer would not write: a line at a time
                return self._quoted(lines)
            bare = shown.split("\n")
        width, at = self._width, self._at
        fit = list(map(eq, map(str.count, bare, repeat(",")), repeat(width - 1)))
        if all(fit):
            texts = _field(bare, at)
            if '"' not in texts and all(map(str.strip, texts)):  # no blank line either
                return cast(list[Record], lines), texts
            kinds = [PLAIN] * len(lines)
        else:
            kinds = [PLAIN if ok else PARSED for ok in fit]
            texts = _field(list(compress(bare, fit)), at)
        if '"' in texts:  # a quoted phone field: parsed
            plain = iter(texts)
            for i in _at(kinds, PLAIN):
                if next(plain) == '"':
                    kinds[i] = PARSED
            texts = [text for text in texts if text != '"']
        return self._gather(lines, kinds, [iter(texts), iter(()), iter(())])

    def _quoted(self, lines: list[str]) -> Records | None:
        """``records`` of lines some of which have a quote the writer would not write: each
        line with a quote is read by ``_canonical`` (the lines it does not take, parsed)."""
        wide = map(eq, map(str.count, lines, repeat(",")), repeat(self._width - 1))
        quoted = map(contains, lines, repeat('"'))
        kinds = list(map(_KIND.__getitem__, zip(quoted, wide, strict=True)))
        texts: list[Iterator[str]] = [iter(()), iter(()), iter(())]
        if PLAIN in kinds:
            texts[PLAIN] = iter(_field(_where(lines, kinds, PLAIN), self._at))
        if QUOTED in kinds:
            found = _canonical(self._width, self._at).findall(
                "\n".join(_where(lines, kinds, QUOTED)))
            odd = iter(list(map(itemgetter(1), found)))
            for i in _at(kinds, QUOTED):
                if next(odd):
                    kinds[i] = PARSED
            texts[QUOTED] = iter(list(compress(map(itemgetter(0), found),
                                               map(not_, map(itemgetter(1), found)))))
        return self._gather(lines, kinds, texts)

    def _gather(self, lines: list[str], kinds: list[int], texts: list[Iterator[str]]
                ) -> Records | None:
        """The records, the lines of kind PARSED parsed, and the phone fields in order
        (``texts`` holds those of each other kind); None if a record runs across lines."""
        records = cast(list[Record], lines)
        parsed: list[list[str]] = []
        if PARSED in kinds:
            where = _at(kinds, PARSED)
            parsed = list(csv.reader([*_where(lines, kinds, PARSED), _SENTINEL]))
            if len(parsed) != len(where) + 1:
                return None
            parsed.pop()
            for i, row in zip(where, parsed, strict=True):
                records[i] = row
            texts[PARSED] = iter(_fields(parsed, self._at))
        phones = list(map(next, map(texts.__getitem__, kinds)))
        # a blank line (whitespace and commas) has a blank phone field, if it is not parsed
        if not _none_blank(parsed) or not all(map(str.strip, phones)):
            keep = [not (_blank(record) if isinstance(record, list) else
                         not record.strip(BLANK)) for record in records]
            return list(compress(records, keep)), list(compress(phones, keep))
        return records, phones


def _unquoted(body: str) -> str | None:
    """``body`` with each quoted field that the writer would write as it is (a comma inside,
    no quote) put as one quote, or None when there is any other quote: then every quote left
    is a whole field (between commas or line ends), so the lines are read as lines."""
    quotes = body.count('"')
    shown, fields = _QUOTED_FIELD.subn('"', body)
    if quotes != 2 * fields or _ASTRAY.search(shown):
        return None
    return shown


_KIND = {(False, True): PLAIN, (False, False): PARSED, (True, True): QUOTED,
         (True, False): QUOTED}  # (has a quote, as many commas as the header)


def _at(kinds: list[int], kind: int) -> list[int]:
    return list(compress(range(len(kinds)), map(eq, kinds, repeat(kind))))


def _where(lines: list[str], kinds: list[int], kind: int) -> list[str]:
    return list(compress(lines, map(eq, kinds, repeat(kind))))


def _field(lines: list[str], at: int) -> list[str]:
    """The field ``at`` of each line whose fields hold no comma (enough of them)."""
    return list(map(itemgetter(at), map(str.split, lines, repeat(","), repeat(at + 1))))


def _fields(rows: list[list[str]], at: int) -> list[str]:
    """The field ``at`` of each row, empty when the row is shorter."""
    return [row[at] if at < len(row) else "" for row in rows]


_QUOTED_FIELD = re.compile(r'"[^"\n]*,[^"\n]*"')
_ASTRAY = re.compile(r'"(?:(?<=[^,\n]")|(?=[^,\n]))')  # a quote not between commas or lines
# A field the writer writes as it is: no quote, comma or line end; or quoted, with a comma
# and no quote inside (the writer quotes it, and doubles no quote).
_FIELD = r'(?:[^,"\n]*|"[^"\n]*,[^"\n]*")'


@lru_cache(maxsize=8)
def _canonical(width: int, at: int) -> re.Pattern[str]:
    """A line of ``width`` such fields, with the phone field (at ``at``) unquoted, gives
    ``(phone field, "")``; any other line ``("", the line)``. With such fields the expression
    can split a line one way only, the way the parser does."""
    head = (_FIELD + ",") * at
    tail = ("," + _FIELD) * (width - 1 - at)
    return re.compile(rf'^(?:{head}([^,"\n]*){tail}|(.+))$', re.M)


def with_field(line: str, width: int, at: int, old: str, new: str) -> str:
    """A line of ``records`` (its field ``at`` is ``old``, unquoted) with that field ``new``
    (which needs no quotes): cut by commas when no quote comes before it."""
    fields = line.split(",", at + 1)
    if '"' not in line[:len(line) - len(fields[-1])]:
        fields[at] = new
        return ",".join(fields)
    head = cast(re.Match[str], _phone_head(width, at).fullmatch(line))[1]
    return head + new + line[len(head) + len(old):]


@lru_cache(maxsize=8)
def _phone_head(width: int, at: int) -> re.Pattern[str]:
    """``_canonical``'s lines, with what comes before the phone field as group 1."""
    head = (_FIELD + ",") * at
    tail = ("," + _FIELD) * (width - 1 - at)
    return re.compile(rf'({head})[^,"\n]*{tail}')


def _sized(ready: Records, size: int, *, last: bool) -> Generator[Records, None, None]:
    """Take lists of ``size`` off the front of ``ready`` (and the rest, if ``last``)."""
    records, phones = ready
    while len(records) >= size or (last and records):
        chunk = records[:size], phones[:size]
        del records[:size], phones[:size]
        yield chunk
