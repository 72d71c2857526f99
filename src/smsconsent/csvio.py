"""The CSV conventions every bulk command shares, in one place.

A file has a header row; the number is in a column named ``phone`` (``number`` and ``mobile``
are accepted too, in that order of preference); a BOM, CRLF line ends, quoted fields and blank
lines are all fine. A file is checked from end to end (``scan``) before anything is done with
it, so a bad file (missing, empty, not UTF-8, no phone column, unreadable CSV) is refused with a
clear message and nothing is written anywhere. Rejected rows are written with the original
row's columns plus ``reason`` (a machine code) and ``detail`` (for people).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, Protocol, TextIO

from smsconsent.csvformat import format_rows, read_rows
from smsconsent.errors import BadInput

PHONE_COLUMNS = ("phone", "number", "mobile")
ENCODING = "utf-8-sig"  # UTF-8, with or without a byte-order mark
MAX_FIELD = 16 << 20  # characters: the csv module's default (128 KiB) would fail mid-file


class TextSink(Protocol):
    """Anything text can be written to: an open file, a StringIO, an HTTP response buffer."""

    def write(self, text: str, /) -> int: ...


class Progress(Protocol):
    """Told the number of rows once the file is checked, then each batch done."""

    def start(self, total: int) -> None: ...

    def advance(self, rows: int) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


@dataclass(frozen=True)
class CsvShape:
    """What ``scan`` learnt: the header, where the phone and other known columns are, and
    about how many data rows there are (lines, for the progress bar)."""

    header: list[str]
    phone: int
    rows: int
    index: dict[str, int]

    def column(self, name: str) -> int | None:
        """Where the column named ``name`` (lower case) is, or None; the first one wins."""
        return self.index.get(name)

    def require_unique(self, names: Iterable[str], name: str = "the file") -> None:
        """Refuse a file that names a column read from it twice ("phone,phone"): which one
        holds the value is a guess, and a wrong guess imports or refuses the wrong rows.
        Columns passed through untouched may repeat."""
        seen = [h.strip().lower() for h in self.header]
        for column in names:
            if seen.count(column) > 1:
                raise BadInput(f"{name} has {seen.count(column)} columns named {column!r}: keep "
                               "one", code="duplicate_column")


def _blank(row: list[str]) -> bool:
    # Fields joined are whitespace alone exactly when each field is: one C call per row.
    return not "".join(row).strip()


def _none_blank(rows: list[list[str]]) -> bool:
    """Whether no row is ``_blank``, checked in C: a row whose first field is not blank is
    not, and that test makes no string a row (the fields joined are, for the rest)."""
    return all(rows) and (all(map(str.strip, map(_FIRST, rows)))
                          or all(map(str.strip, map("".join, rows))))


_FIRST = itemgetter(0)


def scan(source: BinaryIO, name: str = "the file") -> CsvShape:
    """Check the whole file before anything is done with it; rewinds it.

    Refuses (BadInput) a file that is empty, not UTF-8, or has no phone column. The bytes are
    decoded block by block (C speed) and lines counted for the progress bar; quoting is
    lenient, so the CSV parser fails later only on a field over ``MAX_FIELD`` (a quote left
    open in a big file): bad input then, ``bad_csv`` (``csvformat.read_rows``).
    """
    decoder = codecs.getincrementaldecoder(ENCODING)("strict")
    lines, offset = 0, 0
    tail = b""
    try:
        while block := source.read(1 << 20):
            decoder.decode(block)
            lines += block.count(b"\n")
            offset += len(block)
            tail = block[-1:]
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{name} is not UTF-8 text ({exc.reason} near byte "
                       f"{offset + exc.start:,}): save it as UTF-8 and try again",
                       code="not_utf8") from None
    lines += 1 if tail not in (b"", b"\n") else 0
    source.seek(0)
    first = data_rows(source, header=True)
    header = next(first, None)
    first.close()  # detaches the text wrapper, which would otherwise close ``source``
    source.seek(0)
    if header is None:
        raise BadInput(f"{name} is empty: a header row and at least one row are needed",
                       code="empty_file")
    names = [h.strip().lower() for h in header]
    index: dict[str, int] = {}
    for i, column in enumerate(names):
        index.setdefault(column, i)
    for wanted in PHONE_COLUMNS:
        if wanted in index:
            shape = CsvShape(header, index[wanted], max(0, lines - 1), index)
            shape.require_unique([wanted], name)
            return shape
    raise BadInput(f"{name} has no phone column: name one of {', '.join(PHONE_COLUMNS)} "
                   f"(the header is {', '.join(header)})", code="no_phone_column")


def data_rows(source: BinaryIO, *, header: bool = False
              ) -> Generator[list[str], None, None]:
    """The rows after the header (or the header alone), blank lines skipped; use it on a file
    ``scan`` accepted."""
    with closing(data_chunks(source, 1 if header else 1000, header=header)) as chunks:
        for chunk in chunks:
            yield from chunk


def data_chunks(source: BinaryIO, size: int, *, header: bool = False
                ) -> Generator[list[list[str]], None, None]:
    """``data_rows`` in lists of at most ``size`` rows, each list read by one call into the
    C parser (a per-row generator costs more than parsing the row)."""
    rows = ChunkReader(source)
    try:
        if header:
            if rows.header is not None:
                yield [rows.header]
            return
        yield from rows.chunks(size)
    finally:
        rows.close()


class ChunkReader:
    """A file's rows in chunks, and how many lines of it the parser has read (``line``).

    From the start of the file (``start=0``) the first non-blank row is the header and is
    taken at once; from a later ``start`` (the byte just after a line end, see ``find_cut``)
    every row is data, decoded as plain UTF-8 (a BOM there is text, as it is to one reader of
    the whole file). Blank rows are skipped.
    """

    def __init__(self, source: BinaryIO, start: int = 0) -> None:
        if csv.field_size_limit() < MAX_FIELD:
            csv.field_size_limit(MAX_FIELD)
        if start:
            source.seek(start)
        # the text after the rows read so far (``csvlines`` reads it as lines, ``resume``)
        self.text = io.TextIOWrapper(source, encoding=ENCODING if start == 0 else "utf-8",
                                      errors="strict", newline="")
        self._reader = csv.reader(self.text)
        self.header: list[str] | None = None
        if start == 0:
            try:
                for row in self._reader:
                    if not _blank(row):
                        self.header = row
                        break
            except BaseException:
                self.close()
                raise

    @property
    def line(self) -> int:
        """Lines read so far, counted from ``start`` (``\n``, ``\r\n`` and ``\r`` end one)."""
        return self._reader.line_num

    def resume(self, text: str) -> None:
        """Parse ``text`` (taken from ``self.text`` by its caller, from a record's start)
        and then the rest of the file; ``line`` counts from there."""
        self._reader = csv.reader(chain(io.StringIO(text, newline=""), self.text))

    def chunks(self, size: int, until: int | None = None
               ) -> Generator[list[list[str]], None, None]:
        """Lists of at most ``size`` rows; with ``until``, no row is begun at or after that
        line, so the last one read ends on it exactly when a record ends there (``line ==
        until``), or runs past it (``line > until``)."""
        reader = self._reader
        while True:
            want = size if until is None else min(size, until - reader.line_num)
            if want <= 0:
                return
            got = read_rows(reader, want, reader.line_num)
            if not got:
                return
            if _none_blank(got):
                yield got
                continue
            rows = [row for row in got if not _blank(row)]
            if rows:
                yield rows

    def close(self) -> None:
        """Let go of the source without closing it (the caller owns it)."""
        self.text.detach()


@dataclass(frozen=True)
class Cut:
    """Where a file can be cut in two for two readers: ``offset`` is the byte just after a
    line end, ``lines`` the number of lines before it (as ``ChunkReader.line`` counts them).

    The cut is between two records only if no quoted field runs across it. ``find_cut``
    makes that likely (an even number of quote characters before it); a reader of the
    first part proves it, or not, when it gets there (``ChunkReader.chunks(until=lines)``).
    """

    offset: int
    lines: int


def find_cut(source: BinaryIO, share: float, *, search: int = 1 << 20) -> Cut | None:
    """The first line start at or after ``share`` of the file's bytes with an even number of
    quote characters before it, within ``search`` bytes; None when there is none (or nothing
    after it). Rewinds ``source``."""
    source.seek(0, io.SEEK_END)
    size = source.tell()
    target = int(size * share)
    source.seek(0)
    quotes = lf = cr = crlf = pos = 0
    last = b""
    try:
        while block := source.read(1 << 20):
            crlf += last == b"\r" and block[:1] == b"\n"
            last = block[-1:]
            end = pos + len(block)
            if end <= target:
                quotes += block.count(b'"')
                lf, cr, crlf = lf + block.count(b"\n"), cr + block.count(b"\r"), \
                    crlf + block.count(b"\r\n")
                pos = end
                continue
            done = 0
            at = max(0, target - pos)
            while (i := block.find(b"\n", at)) >= 0:
                part = block[done:i + 1]
                quotes += part.count(b'"')
                lf, cr, crlf = lf + part.count(b"\n"), cr + part.count(b"\r"), \
                    crlf + part.count(b"\r\n")
                done = at = i + 1
                if pos + done >= size:
                    return None
                if quotes % 2 == 0:
                    return Cut(pos + done, lf + cr - crlf)
            part = block[done:]
            quotes += part.count(b'"')
            lf, cr, crlf = lf + part.count(b"\n"), cr + part.count(b"\r"), \
                crlf + part.count(b"\r\n")
            pos = end
            if pos > target + search:
                return None
        return None
    finally:
        source.seek(0)


def open_input(path: str | Path) -> BinaryIO:
    """Open a file named on the command line, or say clearly why it cannot be read."""
    target = Path(path)
    if not target.exists():
        raise BadInput(f"no such file: {target}", code="no_such_file")
    if not target.is_file():
        raise BadInput(f"not a file: {target}", code="not_a_file")
    try:
        return target.open("rb")
    except OSError as exc:
        raise BadInput(f"cannot read {target}: {exc.strerror}", code="unreadable") from None


class LazyFile:
    """An output file created on the first write, so a refused input leaves no file behind."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: TextIO | None = None

    def write(self, text: str, /) -> int:
        if self._file is None:
            self._file = self.path.open("w", encoding="utf-8", newline="")
        return self._file.write(text)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class RowsWriter:
    """A CSV writer that counts what it writes; ``extra`` columns are added to the header."""

    def __init__(self, sink: TextSink, header: list[str], extra: tuple[str, ...] = (), *,
                 heading: bool = True) -> None:
        self.width = len(header)
        self._sink = sink
        self._writer = csv.writer(sink, lineterminator="\n")
        if heading:
            self._writer.writerow([*header, *extra])
        self._buffer = io.StringIO()
        self._buffered = csv.writer(self._buffer, lineterminator="\n")
        self.count = 0

    def write(self, row: list[str]) -> None:
        self._writer.writerow(row)
        self.count += 1

    def write_many(self, rows: list[list[str]]) -> None:
        """The rows formatted in memory, then handed to the sink in one write: a sink's
        ``write`` may be Python code (``LazyFile``), too slow to call once a row."""
        self._buffered.writerows(rows)
        self._sink.write(self._buffer.getvalue())
        self._buffer.seek(0)
        self._buffer.truncate()
        self.count += len(rows)

    def write_chunk(self, rows: list[list[str]]) -> None:
        """``write_many``'s text, formatted a column at a time (``csvformat``)."""
        self._sink.write(format_rows(rows))
        self.count += len(rows)

    def write_lines(self, records: list[str]) -> None:
        """Records already formatted (``csvformat.format_records``), each without its end."""
        if records:
            self._sink.write("\n".join(records) + "\n")
            self.count += len(records)

    def append(self, text: TextIO, count: int) -> None:
        """``count`` rows another writer formatted (with no header), copied as they are."""
        while block := text.read(1 << 20):
            self._sink.write(block)
        self.count += count


class RejectsWriter(RowsWriter):
    """Writes a refused row as it came (padded to the header), plus ``reason`` and ``detail``."""

    def __init__(self, sink: TextSink, header: list[str], *, heading: bool = True) -> None:
        super().__init__(sink, header, ("reason", "detail"), heading=heading)

    def write_ending(self, rows: list[list[str]], ends: list[tuple[str, str]]) -> None:
        """``write_many`` of each row plus its ``(reason, detail)``, formatted a column at a
        time (``csvformat``): the rows as they came, then the two endings' columns."""
        self._sink.write(format_rows(rows, ends))
        self.count += len(rows)

    def reject(self, row: list[str], reason: str, detail: str) -> None:
        self.write(self.line(row, reason, detail))

    def line(self, row: list[str], reason: str, detail: str) -> list[str]:
        """The fields ``reject`` writes, for ``write_many``."""
        return [*fit(row, self.width), reason, with_extra_fields(detail, row, self.width)]


def with_extra_fields(detail: str, row: list[str], width: int) -> str:
    """A refusal's detail, naming the fields of a row longer than the header (cut off)."""
    if len(row) <= width:
        return detail
    return f"{detail} (extra fields: {', '.join(row[width:])})"


def fit(row: list[str], width: int) -> list[str]:
    """The row cut or padded to the header's width (a short row's missing fields are empty)."""
    if len(row) == width:
        return row
    return row[:width] if len(row) > width else row + [""] * (width - len(row))


def field(row: list[str], index: int | None) -> str:
    """A field's value, stripped; empty when the column is absent or the row is short."""
    if index is None or index >= len(row):
        return ""
    return row[index].strip()
