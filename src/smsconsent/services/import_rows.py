"""Reading an import's rows: each row checked and turned into a ``Row``, in runs of a batch.

A file of at least ``PROCESS_ROWS`` rows that the caller opened from a path is read by a
parser process (a new interpreter: nothing of this process is shared), which reads and checks the
rows and sends each run over a pipe as columns of plain strings; this process, which decides
and writes, then spends nothing on parsing. The runs are the very ones reading here gives
(``parsed_batches``; tests/integration/test_import_paths.py compares the ledgers, rejects and
summaries of both ways). If the parser process cannot open the file the rows are read here
instead; if it stops before the end (killed, or the file changed under it) the import stops
with an error that says how far it got: every batch before was committed, and importing the
file again completes it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from itertools import repeat
from multiprocessing.connection import Connection
from operator import attrgetter, itemgetter
from typing import Any, BinaryIO

from smsconsent import csvio
from smsconsent.domain.clock import parse_ts
from smsconsent.domain.gate import PURPOSES
from smsconsent.domain.phones import PhoneNormalizer
from smsconsent.errors import BadInput, SmsConsentError
from smsconsent.services.agents import CONSENT_TYPES
from smsconsent.services.base import check_text
from smsconsent.services.import_plan import FreshPlan, Prepared, prepare

PROCESS_ROWS = 200_000  # below this, starting a parser process costs more than it saves
WINDOW = 100_000  # rows put in phone order at a time, where the order of rows is free
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
# ... and the run prepared for the writer's fresh path (import_plan), when it was
Runs = Generator[tuple[list[Row], list[Refused], int, Prepared | None], None, None]


def batches(source: BinaryIO, shape: csvio.CsvShape, reader: RowReader, region: str, now: str,
            size: int, plan: FreshPlan | None = None) -> Runs:
    """The file's rows in runs (``parsed_batches``), read here or by a parser process, which
    also prepares them by ``plan`` (import_plan.py); close the iterator when done with it
    early (it stops the process)."""
    path = _own_path(source) if os.name == "posix" else None  # the pipe is passed by fd
    if path is None or shape.rows < PROCESS_ROWS:
        return _unprepared(_read_here(source, shape, reader, region, now, size))
    return _read_by_process(path, source, shape, reader, region, now, size, plan)


def _unprepared(runs: Batches) -> Runs:
    for rows, refused, read in runs:
        yield rows, refused, read, None


def _read_here(source: BinaryIO, shape: csvio.CsvShape, reader: RowReader, region: str,
               now: str, size: int) -> Batches:
    runs = parsed_batches(csvio.data_chunks(source, CHUNK), reader.parser(shape, region, now),
                          len(shape.header), size)
    return in_phone_order(runs, WINDOW, size) if reader.order_free else runs


def _own_path(source: BinaryIO) -> str | None:
    """The path ``source`` was opened from, if it is still that regular file and unread."""
    name = getattr(source, "name", None)
    if not isinstance(name, str):
        return None
    try:
        opened, named = os.fstat(source.fileno()), os.stat(name)
        unread = source.tell() == 0
    except (OSError, ValueError, AttributeError):
        return None
    return name if unread and os.path.samestat(opened, named) else None


_KEPT = ("fields", "phone", "at", "evidence", "origin", "consent_type", "purpose", "list_name")
_NO_FIELDS: list[str] = []  # a row that can never be refused does not need its fields


def _read_by_process(path: str, source: BinaryIO, shape: csvio.CsvShape, reader: RowReader,
                     region: str, now: str, size: int, plan: FreshPlan | None = None) -> Runs:
    """The runs as the parser process sends them (see the module's docstring).

    The process is a new interpreter running ``_child_main`` (not ``multiprocessing``'s
    spawn, which would first re-run the caller's main script): its setup comes pickled on its
    stdin, the runs go back through a pipe of their own, each a length-prefixed pickle
    (``multiprocessing.connection.Connection``'s framing).
    """
    readable, writable = os.pipe()
    try:
        child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                 pass_fds=(writable,))
    except OSError:
        os.close(readable)
        child = None
    finally:
        os.close(writable)
    if child is None:
        yield from _unprepared(_read_here(source, shape, reader, region, now, size))
        return
    receiver = Connection(readable, writable=False)
    read = 0
    try:
        assert child.stdin is not None
        with contextlib.suppress(BrokenPipeError), child.stdin as setup:
            setup.write(pickle.dumps((writable, path, shape, reader, region, now, size, plan)))
        while True:
            try:
                message = receiver.recv()
            except (EOFError, OSError):  # OSError: it died in the middle of a message
                raise SmsConsentError(
                    f"the import stopped after {read:,} rows: the parser process ended "
                    f"(exit code {child.wait()}) before the end of the file. Every row "
                    f"before was imported; import the file again to finish (rows already "
                    f"imported count as unchanged).", code="import_interrupted") from None
            kind = message[0]
            if kind == "rows":
                _, columns, refused, count, pieces = message
                read += count
                rows = list(map(Row, *columns)) if reader.refusable \
                    else list(map(Row, repeat(_NO_FIELDS), *columns))
                named = dict(zip(_sent(reader), columns, strict=True))
                yield rows, refused, count, None if plan is None or pieces is None \
                    else Prepared([named[f] for f in plan.fields], pieces)
            elif kind == "unopened":
                yield from _unprepared(_read_here(source, shape, reader, region, now, size))
                return
            elif kind == "error":
                _, code, text = message
                raise BadInput(f"{text} (after {read:,} rows: every row before was imported)",
                               code=code)
            else:
                return
    finally:
        receiver.close()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


_CHILD = "from smsconsent.services.import_rows import _child_main; _child_main()"


def _child_main() -> None:
    """The parser process's entry point: its setup from stdin, then ``_parse_in_child``.

    Ctrl-C is the writer's to handle (it reaches the whole process group): the writer stops,
    its end of the pipe closes, and this process ends quietly at its next send.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, *setup = pickle.loads(sys.stdin.buffer.read())
    with contextlib.suppress(BrokenPipeError):
        _parse_in_child(Connection(fd, readable=False), *setup)


def _sent(reader: RowReader) -> tuple[str, ...]:
    """The fields of a ``Row`` the parser process sends (the rest are Row's defaults)."""
    return _KEPT if reader.refusable else _KEPT[1:5]


def _parse_in_child(sender: Any, path: str, shape: csvio.CsvShape, reader: RowReader,
                    region: str, now: str, size: int, plan: FreshPlan | None) -> None:
    """The parser process: read ``path`` and send each run (prepared by ``plan``), then
    ``("done",)``."""
    gc.disable()  # millions of short-lived rows, no cycles: reference counting frees them
    names = _sent(reader)
    getters = [attrgetter(n) for n in names]
    try:
        source = open(path, "rb")  # noqa: SIM115 (closed by ``closing`` below)
    except OSError:
        sender.send(("unopened",))
        return
    try:
        with closing(source):
            for rows, refused, count in _read_here(source, shape, reader, region, now, size):
                columns = [list(map(get, rows)) for get in getters]
                prepared = None if plan is None \
                    else prepare(plan, dict(zip(names, columns, strict=True)))
                sender.send(("rows", columns, refused, count,
                             None if prepared is None else prepared.pieces))
    except BrokenPipeError:
        raise  # the writer is gone: nobody to tell
    except UnicodeDecodeError as exc:
        sender.send(("error", "not_utf8", f"{path} is no longer UTF-8 text ({exc.reason})"))
    except OSError as exc:
        sender.send(("error", "unreadable", f"cannot read {path}: {exc.strerror or exc}"))
    else:
        sender.send(("done",))
    finally:
        sender.close()


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
    """
    rows: list[Row] = []
    refused: list[Refused] = []
    read = 0
    for run_rows, run_refused, run_read in runs:
        rows += run_rows
        refused += run_refused
        read += run_read
        if len(rows) >= window:
            yield from _ordered(rows, refused, read, size)
            rows, refused, read = [], [], 0
    if rows or refused or read:
        yield from _ordered(rows, refused, read, size)


def _ordered(rows: list[Row], refused: list[Refused], read: int, size: int) -> Batches:
    """One window's runs (see ``in_phone_order``): by (repeat of the number, number)."""
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
    counted = 0
    for i, run in enumerate(runs):
        last = i == len(runs) - 1
        yield run, refused if i == 0 else [], read - counted if last else len(run)
        counted += len(run)


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
        at_at, evidence_at, origin_at = (shape.column(c) for c in
                                         (time_column, "evidence", "source"))

        kept = self.refusable  # a row never refused after reading needs no fields kept

        def common(fields: list[str]) -> Row:
            phone = norm(fields[phone_at])
            at = _time(fields[at_at].strip() if at_at is not None else "", now, time_column)
            evidence = _text(fields[evidence_at].strip(), "evidence") \
                if evidence_at is not None else None
            origin = _text(fields[origin_at].strip(), "source") \
                if origin_at is not None else None
            return Row(fields if kept else _NO_FIELDS, phone, at, evidence, origin)

        if not self.contacts:
            return common
        kind_at, purpose_at, list_at = (shape.column(c) for c in
                                        ("consent_type", "purpose", "list"))
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
