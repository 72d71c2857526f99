"""Reading an import's rows: each row checked and turned into a ``Row``, in runs of a batch.

The runs are read in the writing process or, for big files, by a parser process beside it
(import_process.py); both give the very runs ``read_here`` gives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import BinaryIO

from smsconsent import csvio
from smsconsent.domain.clock import parse_ts
from smsconsent.domain.consent import CONSENT_TYPES
from smsconsent.domain.free_text import check_text
from smsconsent.domain.gate import PURPOSES
from smsconsent.domain.phones import PhoneNormalizer
from smsconsent.errors import BadInput

WINDOW = 100_000  # at most this many rows put in phone order at a time, where the order is free
CHUNK = 1000  # rows per call into the C CSV reader


@dataclass(slots=True)
class Row:
    """One readable row of an import: the original fields, its number, time and details."""

    fields: list[str]
    phone: str
    at: str
    evidence: str | None
    origin: str | None
    consent_type: str = "express"
    purpose: str | None = None
    list_name: str | None = None


Parse = Callable[[list[str]], Row]
Refused = tuple[list[str], str, str]
Batch = tuple[list[Row], list[Refused], int]  # rows, refusals, rows read since the last
Batches = Generator[Batch, None, None]
NO_FIELDS: list[str] = []  # a row that can never be refused does not need its fields


def read_here(source: BinaryIO, shape: csvio.CsvShape, reader: RowReader, region: str,
              now: str, size: int) -> Batches:
    """The file's runs read in this process (``parsed_batches``), in phone order within
    windows where the order of rows is free (``in_phone_order``)."""
    runs = parsed_batches(csvio.data_chunks(source, CHUNK), reader.parser(shape, region, now),
                          len(shape.header), size)
    return in_phone_order(runs, WINDOW, size) if reader.order_free else runs


def parsed_batches(chunks: Iterable[list[list[str]]], parse: Parse, width: int, size: int
                   ) -> Batches:
    """Runs of at most ``size`` readable rows in which no number appears twice, each with the
    rows refused while it was read and how many rows were read since the run before (a last
    run may hold refusals alone)."""
    current: list[Row] = []
    phones: set[str] = set()
    refused: list[Refused] = []
    read = 0
    for chunk in chunks:
        read += len(chunk)
        for fields in chunk:
            try:
                if len(fields) != width:
                    if len(fields) > width:
                        raise BadInput(f"{len(fields)} fields but the header has {width}",
                                       code="bad_row")
                    fields = csvio.fit(fields, width)
                row = parse(fields)
            except BadInput as exc:
                refused.append((fields, exc.code, exc.message))
                continue
            if len(current) >= size or row.phone in phones:
                yield current, refused, read
                current, phones, refused, read = [], set(), [], 0
            current.append(row)
            phones.add(row.phone)
    if current or refused or read:
        yield current, refused, read


def in_phone_order(runs: Batches, window: int, size: int) -> Batches:
    """The rows of ``runs`` again, in phone order within each ``window`` of rows read.

    Why: the contacts' key and the events' per-contact index are B-trees ordered by number.
    Rows written in the file's (random) order dirty nearly every leaf of both at each
    commit, and each dirty page is a WAL frame: in phone order a window's commits touch each
    leaf about once (``bench/floor.py``: the raw floor of 1M rows 17 -> 10 s). Only for an
    import whose rows are independent across numbers and never refused after reading (the
    opt-outs): a number's own rows keep their order (its second row comes in a run after its
    first), so every row is still decided against the state its earlier rows left. The
    window's refusals come with its first run, each run counts its own rows as read and the
    last also the rest, so the counts add up as before.

    The first window is one run and each next one twice the last, up to ``window``: the
    writer waits only for a run's reading before it starts (a whole window kept it idle for
    ~0.5 s of a 1M-row import), and each window is read while the one before is written.
    """
    rows: list[Row] = []
    refused: list[Refused] = []
    read = 0
    limit = min(size, window)
    for run_rows, run_refused, run_read in runs:
        rows += run_rows
        refused += run_refused
        read += run_read
        if len(rows) >= limit:
            yield from _ordered(rows, refused, read, size)
            rows, refused, read = [], [], 0
            limit = min(2 * limit, window)
    if rows or refused or read:
        yield from _ordered(rows, refused, read, size)


def _ordered(rows: list[Row], refused: list[Refused], read: int, size: int) -> Batches:
    """One window's runs (see ``in_phone_order``): by (repeat of the number, number)."""
    if len(set(map(_phone, rows))) == len(rows):  # no number twice: the usual window
        rows = sorted(rows, key=_phone)
        runs = [rows[start:start + size] for start in range(0, len(rows), size)] or [[]]
    else:
        runs = _repeats_apart(rows, size)
    counted = 0
    for i, run in enumerate(runs):
        last = i == len(runs) - 1
        yield run, refused if i == 0 else [], read - counted if last else len(run)
        counted += len(run)


def _repeats_apart(rows: list[Row], size: int) -> list[list[Row]]:
    """The runs of a window in which some number comes more than once: ordered by (repeat
    of the number, number), a new run wherever the repeat changes."""
    seen: dict[str, int] = {}
    keyed = []
    for row in rows:
        repeat_ = seen.get(row.phone, 0)
        seen[row.phone] = repeat_ + 1
        keyed.append((repeat_, row.phone, row))
    keyed.sort(key=itemgetter(0, 1))  # by (repeat, number): never the Row itself
    runs: list[list[Row]] = []
    current: list[Row] = []
    level = 0
    for repeat_, _, row in keyed:
        if len(current) >= size or (repeat_ != level and current):
            runs.append(current)
            current = []
        level = repeat_
        current.append(row)
    if current or not runs:
        runs.append(current)
    return runs


_phone = attrgetter("phone")


# A number's field that holds a line break: only a quote left open makes one (the parser then
# reads on to the next quote, so the rows after it are inside this field, not lost).
_UNCLOSED = ("the number's field runs over a line break: a quote before it is not closed, so "
             "the lines after it are read into this row; close the quote and import again")


@dataclass(frozen=True)
class RowReader:
    """How an import reads a row: the columns both imports share (number, time, evidence,
    old source) and, for contacts, the consent columns. Plain data, so the parser can be
    built wherever the rows are read."""

    time_column: str
    contacts: bool = False
    default_evidence: str | None = None
    lists: frozenset[str] = frozenset()

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns this reader reads beside the number, in ``parser``'s order: the time,
        evidence and old source, then (contacts) consent type, purpose and list."""
        shared = (self.time_column, "evidence", "source")
        return (*shared, "consent_type", "purpose", "list") if self.contacts else shared

    @property
    def refusable(self) -> bool:
        """Whether a row read can still be refused by the import's rule (its fields are then
        written to the rejects file): contacts, blocked or opted out; never an opt-out."""
        return self.contacts

    @property
    def order_free(self) -> bool:
        """Whether rows may be written in another order than the file's (``in_phone_order``):
        the opt-outs, whose rows for different numbers never bear on each other and are never
        refused once read. Contacts keep the file's order, so their rejects file does too."""
        return not self.contacts

    def parser(self, shape: csvio.CsvShape, region: str, now: str) -> Parse:
        """The function from a row's fields (fitted to the header) to its ``Row``; raises
        ``BadInput`` for a row that cannot be imported."""
        norm = PhoneNormalizer(region)
        phone_at, time_column = shape.phone, self.time_column
        at_at, evidence_at, origin_at = map(shape.column, self.columns[:3])

        kept = self.refusable  # a row never refused after reading needs no fields kept

        def common(fields: list[str]) -> Row:
            text = fields[phone_at]
            if "\n" in text or "\r" in text:
                raise BadInput(_UNCLOSED, code="unclosed_quote")
            phone = norm(text)
            at = _time(fields[at_at].strip() if at_at is not None else "", now, time_column)
            evidence = _text(fields[evidence_at].strip(), "evidence") \
                if evidence_at is not None else None
            origin = _text(fields[origin_at].strip(), "source") \
                if origin_at is not None else None
            return Row(fields if kept else NO_FIELDS, phone, at, evidence, origin)

        if not self.contacts:
            return common
        kind_at, purpose_at, list_at = map(shape.column, self.columns[3:])
        default_evidence, lists = self.default_evidence, self.lists

        def contact(fields: list[str]) -> Row:
            row = common(fields)
            kind = csvio.field(fields, kind_at) or "express"
            if kind not in CONSENT_TYPES:
                raise BadInput(f"consent_type must be one of {', '.join(CONSENT_TYPES)}, not "
                               f"{kind!r}", code="bad_consent_type")
            purpose = csvio.field(fields, purpose_at) or None
            if purpose is not None and purpose not in PURPOSES:
                raise BadInput(f"purpose must be one of {', '.join(PURPOSES)}, not "
                               f"{purpose!r}", code="bad_purpose")
            row.evidence = row.evidence or default_evidence
            if row.evidence is None:
                raise BadInput("no evidence of consent: give an evidence column or --evidence",
                               code="evidence_required")
            if purpose == "marketing" and kind != "express_written":
                raise BadInput("marketing consent must be express_written (TCPA)",
                               code="marketing_needs_express_written")
            list_name = csvio.field(fields, list_at) or None
            if list_name is not None and list_name not in lists:
                raise BadInput(f"no contact list named {list_name!r}", code="unknown_list")
            row.consent_type, row.purpose, row.list_name = kind, purpose, list_name
            return row

        return contact


@functools.lru_cache(maxsize=4096)
def _parse_ts(value: str) -> str:
    """``parse_ts``, remembered: exports repeat their times (days, whole batches)."""
    return parse_ts(value)


def _time(value: str, now: str, what: str) -> str:
    if not value:
        return now
    try:
        at = _parse_ts(value)
    except BadInput:
        raise BadInput(f"{what} is not an ISO 8601 time: {value!r}", code="bad_time") from None
    if at > now:
        raise BadInput(f"{what} {value!r} is in the future", code="future_time")
    return at


def _text(value: str, what: str) -> str | None:
    if not value:
        return None
    return _checked(value, what)


@functools.lru_cache(maxsize=4096)
def _checked(value: str, what: str) -> str:
    """``check_text``, remembered for the texts that pass: exports repeat their sources and
    evidence on every row (a refusal raises, so it is never remembered)."""
    check_text(value, what, 2000)
    return value
