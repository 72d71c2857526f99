"""CSV records formatted a column at a time: exactly what ``csv.writer`` writes, faster.

``csv.writer`` looks at every character of every field, one by one, to decide whether the
field needs quotes: about 20 ns a character, so ~0.8 us for a 40-character row and over 2 us
for a refusal's detail (a filter of a million rows spent about a second there). The decision
is the same for a whole column when no field of it holds a character that needs quoting,
which one search over the column's text tells; only the fields that do hold one are quoted
here, one by one, as the writer would (wrapped in quotes, quotes doubled). The records are
then the fields joined by commas and the lines by line ends, in C.

The writer stays the reference (``tests/unit/test_csv_format.py`` holds the two equal on any
fields), and the fallback for what this does not do: rows of unequal width, and a row of one
empty field (written ``""``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from itertools import compress, islice, repeat
from operator import contains, or_

from smsconsent.errors import BadInput


def _quoted_by_writer() -> tuple[str, ...]:
    """The characters that make ``csv.writer`` (default dialect, ``\\n`` line ends) quote a
    field: the delimiter, the quote and the line end, and ``\\r`` on Pythons that quote it
    too (3.11 does not). Asked of the writer itself, so the two cannot disagree."""
    found = []
    for char in (",", '"', "\n", "\r"):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([f"a{char}b"])
        if buffer.getvalue().startswith('"'):
            found.append(char)
    return tuple(found)


QUOTED = _quoted_by_writer()


def format_rows(rows: Sequence[Sequence[str]], *more: Sequence[Sequence[str]]) -> str:
    """``csv.writer(buffer, lineterminator="\\n").writerows(...)``'s text for ``rows`` (each
    field a str), each row followed by the same row of every one of ``more`` (its extra
    fields: a refusal's reason and detail)."""
    if not rows:
        return ""
    columns = _columns(rows, *more)
    if columns is None:
        return _by_writer(rows, *more)
    return "\n".join(map(",".join, zip(*map(quote_column, columns), strict=True))) + "\n"


def format_records(rows: Sequence[Sequence[str]], *more: Sequence[Sequence[str]]
                   ) -> list[str]:
    """``format_rows``' records one by one, each without its line end."""
    columns = _columns(rows, *more) if rows else None
    if columns is None:  # rare (see ``_columns``): the writer's text, a record at a time
        return [_by_writer([row], *([extra] for extra in ends))[:-1]
                for row, *ends in zip(rows, *more, strict=True)]
    return list(map(",".join, zip(*map(quote_column, columns), strict=True)))


def _columns(rows: Sequence[Sequence[str]], *more: Sequence[Sequence[str]]
             ) -> list[Sequence[str]] | None:
    """The records' columns, or None when the writer must format them: rows of unequal
    width, or records of one field (a lone empty field is written ``""``)."""
    columns: list[Sequence[str]] = []
    for part in (rows, *more):
        if len(part) != len(rows) or len(set(map(len, part))) != 1:
            return None
        columns.extend(zip(*part, strict=True))
    return columns if len(columns) >= 2 else None


def quote_column(fields: Sequence[str]) -> Sequence[str]:
    """The column's fields as the writer writes them: those holding a ``QUOTED`` character
    in quotes (quotes inside doubled), the others as they are."""
    text = "".join(fields)
    present = [char for char in QUOTED if char in text]
    if not present:
        return fields
    needs = list(map(contains, fields, repeat(present[0])))
    for char in present[1:]:
        needs = list(map(or_, needs, map(contains, fields, repeat(char))))
    out = list(fields)
    for i in compress(range(len(out)), needs):
        out[i] = '"' + out[i].replace('"', '""') + '"'
    return out


def _by_writer(rows: Sequence[Sequence[str]], *more: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if more:
        writer.writerows([[*row, *(field for ends in extra for field in ends)]
                          for row, *extra in zip(rows, *more, strict=True)])
    else:
        writer.writerows(rows)
    return buffer.getvalue()


def read_rows(reader: Iterator[list[str]], count: int, line: int) -> list[list[str]]:
    """The next ``count`` rows of a ``csv.reader`` (fewer at the end of the file), the first
    of them on line ``line``. A row the reader refuses has a field over its size limit: a
    quote left open, as a rule, which reads every line after it into one field; bad input,
    not a crash (the rows before it are read, and an import has recorded them)."""
    try:
        return list(islice(reader, count))
    except csv.Error as exc:
        after = f" after line {line:,}" if line > 0 else ""  # a reader from a cut: unknown
        raise BadInput(f"the CSV cannot be read{after}: {exc}: a quote left open reads every "
                       "line after it into one field", code="bad_csv") from None
