"""A big import's parser process: the rows read, checked and prepared beside the writer.

A file of at least ``PROCESS_ROWS`` rows that the caller opened from a path is read by a
parser process (a new interpreter: nothing of this process is shared), which reads and checks the
rows and sends each run over a pipe as columns of plain strings, with what the writer's fresh
path needs already filled (import_plan.py); this process, which decides and writes, then
spends nothing on parsing. The runs are the very ones reading here gives
(``import_rows.read_here``; tests/integration/test_import_paths.py compares the ledgers,
rejects and summaries of both ways). If the parser process cannot open the file the rows are
read here instead; if it stops before the end (killed, or the file changed under it) the
import stops with an error that says how far it got: every batch before was committed, and
importing the file again completes it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from itertools import repeat
from multiprocessing.connection import Connection
from operator import attrgetter
from typing import Any, BinaryIO

from smsconsent import csvio
from smsconsent.errors import BadInput, SmsConsentError
from smsconsent.services.import_plan import FreshPlan, Prepared, prepare
from smsconsent.services.import_rows import (
    NO_FIELDS,
    WINDOW,
    Batches,
    Refused,
    Row,
    RowReader,
    read_here,
)

PROCESS_ROWS = 200_000  # below this, starting a parser process costs more than it saves
# A run as the writer gets it: rows, refusals, rows read since the last, and the run prepared
# for the writer's fresh path (import_plan.py) when it was
Runs = Generator[tuple[Sequence[Row], list[Refused], int, Prepared | None], None, None]


class Preparing:
    """Whether runs are still worth preparing: ``stop`` tells the parser process they are
    not (a re-import, whose numbers are all stored, writes nothing at once), so that it
    spends nothing more on them. Said by closing a pipe, which the process polls."""

    def __init__(self) -> None:
        self._fd: int | None = None

    def stop(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def batches(source: BinaryIO, shape: csvio.CsvShape, reader: RowReader, region: str, now: str,
            size: int, plan: FreshPlan | None = None, preparing: Preparing | None = None
            ) -> Runs:
    """The file's rows in runs (``parsed_batches``), read here or by a parser process, which
    also prepares them by ``plan`` (import_plan.py) until ``preparing`` stops it; close the
    iterator when done with it early (it stops the process)."""
    path = _own_path(source) if os.name == "posix" else None  # the pipe is passed by fd
    if path is None or shape.rows < PROCESS_ROWS:
        return _unprepared(read_here(source, shape, reader, region, now, size))
    return _read_by_process(path, source, shape, reader, region, now, size, plan,
                            preparing or Preparing())


def _unprepared(runs: Batches) -> Runs:
    for rows, refused, read in runs:
        yield rows, refused, read, None


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


def _read_by_process(path: str, source: BinaryIO, shape: csvio.CsvShape, reader: RowReader,
                     region: str, now: str, size: int, plan: FreshPlan | None = None,
                     preparing: Preparing | None = None) -> Runs:
    """The runs as the parser process sends them (see the module's docstring).

    The process is a new interpreter running ``_child_main`` (not ``multiprocessing``'s
    spawn, which would first re-run the caller's main script): its setup comes pickled on its
    stdin, the runs go back through a pipe of their own, each a length-prefixed pickle
    (``multiprocessing.connection.Connection``'s framing).
    """
    readable, writable = os.pipe()
    _widen(writable)
    polled, told = os.pipe()  # closing ``told`` stops the preparing (``Preparing``)
    try:
        child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                 pass_fds=(writable, polled))
    except OSError:
        os.close(readable)
        os.close(told)
        child = None
    finally:
        os.close(writable)
        os.close(polled)
    if child is None:
        yield from _unprepared(read_here(source, shape, reader, region, now, size))
        return
    receiver = Connection(readable, writable=False)
    preparing = preparing or Preparing()
    preparing._fd = told
    read = 0
    try:
        assert child.stdin is not None
        with contextlib.suppress(BrokenPipeError), child.stdin as setup:
            setup.write(pickle.dumps((writable, path, shape, reader, region, now, size, plan,
                                      polled)))
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
                named = dict(zip(_sent(reader), columns, strict=True))
                yield _Rows(columns, reader.refusable), refused, count, \
                    None if plan is None or pieces is None \
                    else Prepared([named[f] for f in plan.fields], pieces)
            elif kind == "unopened":
                yield from _unprepared(read_here(source, shape, reader, region, now, size))
                return
            elif kind == "error":
                _, code, text = message
                raise BadInput(f"{text} (after {read:,} rows: every row before was imported)",
                               code=code)
            else:
                return
    finally:
        receiver.close()
        preparing.stop()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


PIPE_BYTES = 1 << 20  # Linux's largest pipe for an unprivileged process, by default


def _widen(fd: int) -> None:
    """Give the pipe ``fd`` a 1 MiB buffer where the system allows (Linux): a run is ~3 MB
    of pickle, which the default 64 KiB buffer moves in ~50 handovers between the processes
    (~0.2 s of the writer's time per million rows, measured). Nothing changes elsewhere."""
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl  # POSIX only, as the parser process is

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class _Rows(Sequence[Row]):
    """A run's rows from the parser's columns, made into ``Row`` objects only when first
    read: a run written at once (``Ledger.record_new``) needs only the columns."""

    def __init__(self, columns: list[list[Any]], with_fields: bool) -> None:
        self._columns, self._with_fields = columns, with_fields

    @functools.cached_property
    def _rows(self) -> list[Row]:
        columns = self._columns if self._with_fields else [repeat(NO_FIELDS), *self._columns]
        return list(map(Row, *columns))

    def __len__(self) -> int:
        return len(self._columns[0])

    def __getitem__(self, index: Any) -> Any:
        return self._rows[index]

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)


_CHILD = "from smsconsent.services.import_process import _child_main; _child_main()"


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


def _closed(fd: int) -> bool:
    """Whether the other end of the pipe ``fd`` (not blocking) is closed."""
    try:
        return os.read(fd, 1) == b""
    except BlockingIOError:
        return False


class _Outbox:
    """The parser process's messages, pickled at once and written to the pipe by a thread of
    their own, at most ``depth`` waiting.

    Why: a window's runs come out of ``in_phone_order`` all at once, after the whole window
    is read, and the pipe holds far less than a run. Written by the reading thread, each run
    would wait for the writer to take the one before, and the next window would be read only
    once the writer had nearly finished this one: the two processes would take turns instead
    of working together. Writing to a pipe lets go of the GIL, so reading goes on meanwhile.
    """

    def __init__(self, sender: Connection, depth: int) -> None:
        self._sender = sender
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._broken = False
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def send(self, message: tuple[Any, ...]) -> None:
        if self._broken:
            raise BrokenPipeError("the writer is gone")
        self._queue.put(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if not self._broken:
                try:
                    self._sender.send_bytes(data)
                except OSError:  # the writer is gone: what is left is dropped
                    self._broken = True

    def close(self) -> None:
        """Send what waits, then close the pipe."""
        self._queue.put(None)
        self._thread.join()
        self._sender.close()


def _parse_in_child(pipe: Connection, path: str, shape: csvio.CsvShape, reader: RowReader,
                    region: str, now: str, size: int, plan: FreshPlan | None, polled: int
                    ) -> None:
    """The parser process: read ``path`` and send each run (prepared by ``plan`` until the
    writer closes the other end of ``polled``), then ``("done",)``; half a window of runs
    may wait to be sent."""
    gc.disable()  # millions of short-lived rows, no cycles: reference counting frees them
    os.set_blocking(polled, False)
    names = _sent(reader)
    getters = [attrgetter(n) for n in names]
    sender = _Outbox(pipe, WINDOW // max(size, 1) // 2 + 1)
    try:
        source = open(path, "rb")  # noqa: SIM115 (closed by ``closing`` below)
    except OSError:
        sender.send(("unopened",))
        sender.close()
        return
    try:
        with closing(source):
            for rows, refused, count in read_here(source, shape, reader, region, now, size):
                columns = [list(map(get, rows)) for get in getters]
                if plan is not None and _closed(polled):
                    plan = None
                prepared = None if plan is None \
                    else prepare(plan, dict(zip(names, columns, strict=True)))
                sender.send(("rows", columns, refused, count,
                             None if prepared is None else prepared.pieces))
    except BrokenPipeError:
        raise  # the writer is gone: nobody to tell
    except UnicodeDecodeError as exc:
        sender.send(("error", "not_utf8", f"{path} is no longer UTF-8 text ({exc.reason})"))
    except BadInput as exc:  # a row the CSV reader refuses (csvformat.read_rows)
        sender.send(("error", exc.code, exc.message))
    except OSError as exc:
        sender.send(("error", "unreadable", f"cannot read {path}: {exc.strerror or exc}"))
    else:
        sender.send(("done",))
    finally:
        sender.close()
