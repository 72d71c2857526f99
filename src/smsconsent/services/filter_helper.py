"""A second process that judges the end of a large recipients file while ``filter`` judges the
start: one Python thread cannot go faster than ~7 s a million rows, and a machine has cores.

The file is cut at a line start (``csvio.find_cut``). This process judges the rows before the
cut; the helper (``python -m smsconsent.services.filter_helper``) judges the rows after it
into two temporary files, which are then appended to the outputs as they are. The outputs are
the bytes one process writes, because each row's verdict depends only on:

- the row itself;
- the stored state of its number, read in a transaction that shares this process's view of
  the ledger (``storage.views``: the same PostgreSQL snapshot, or on SQLite the same
  ``head_seq``, else the helper gives up);
- whether the number came earlier in the file: the helper first reads the numbers of the rows
  before the cut (reading and normalising them costs about a third of judging them, hence
  ``HEAD_SHARE`` above one half), so a number first seen before the cut and repeated after it
  is a ``duplicate`` there too.

A cut inside a quoted field (a field with a line break running across it) is found when this
process's reader reaches the cut and has read past it; the helper finds it too. Then, and
whenever the helper cannot help (the ledger moved, it failed, the file changed), its work is
dropped and this process goes on to the end of the file itself: the result is the same.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

from smsconsent import csvio
from smsconsent.services.base import Store
from smsconsent.services.collector import collector_paused
from smsconsent.services.filtering import HEAD_SHARE, Part, Task
from smsconsent.services.lookups import Lookups
from smsconsent.storage.database import make_engine
from smsconsent.storage.views import ViewMoved

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """What the helper is handed (pickled on its standard input)."""

    url: str
    workspace_id: int
    path: str
    identity: tuple[int, int, int, int]  # device, inode, size, mtime: the file we cut
    cut: csvio.Cut
    task: Task
    token: str
    folder: str
    fd: int  # the pipe it reports on


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def plan(store: Store, workspace_id: int, source: BinaryIO, task: Task) -> Helper | None:
    """A helper for ``source`` (started at once), or None when the file cannot be shared: it
    is not a regular file opened by name, or has no line start to cut at."""
    name = getattr(source, "name", None)
    try:
        if not isinstance(name, str):
            return None
        mine = os.fstat(source.fileno())
        if not stat.S_ISREG(mine.st_mode) or _identity(os.stat(name)) != _identity(mine):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    cut = csvio.find_cut(source, HEAD_SHARE)
    if cut is None:
        log.info("filter: one process (no line start to cut at)")
        return None
    return Helper(store, workspace_id, os.path.abspath(name), _identity(mine), cut, task)


class Helper:
    """The parent's side: starts the helper, relays its progress, takes its outputs."""

    def __init__(self, store: Store, workspace_id: int, path: str,
                 identity: tuple[int, int, int, int], cut: csvio.Cut, task: Task) -> None:
        self.cut, self._task = cut, task
        self._store, self._workspace_id = store, workspace_id
        self._path, self._identity = path, identity
        self._folder = tempfile.mkdtemp(prefix="smsconsent-filter-")
        read, self._write = os.pipe()
        self._conn = Connection(read, writable=False)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "smsconsent.services.filter_helper"],
            stdin=subprocess.PIPE, pass_fds=(self._write,), close_fds=True)
        self._report: csvio.Progress | None = None
        self._ended: str | None = None  # why it stopped early
        self._done: tuple[Any, ...] | None = None

    def start(self, token: str, report: csvio.Progress) -> None:
        """Hand the helper its job: the view to share is named by ``token``; its progress
        goes to ``report``."""
        self._report = report
        job = Job(self._store.engine.url.render_as_string(hide_password=False),
                  self._workspace_id, self._path, self._identity, self.cut, self._task, token,
                  self._folder, self._write)
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(pickle.dumps(job))
            stdin.close()
        except OSError as exc:
            self._ended = f"could not start: {exc}"
        os.close(self._write)

    def relay(self) -> None:
        """Take what the helper has said so far, without waiting."""
        while self._ended is None and self._done is None and self._conn.poll():
            self._take()

    def finish(self, part: Part, line: int) -> bool:
        """Append the helper's outputs to ``part``'s, once this process's reader has stopped
        at ``line``; False when they cannot be used (``part`` then reads on itself)."""
        if line != self.cut.lines:
            self._ended = "a quoted field runs across the cut"
        while self._ended is None and self._done is None:
            self._take()
        if self._done is None:
            log.info("filter: one process (%s)", self._ended)
            self.close()
            return False
        rows, sendable, refused, reasons = self._done
        folder = Path(self._folder)
        with (folder / "sendable.csv").open(encoding="utf-8", newline="") as text:
            part.out.append(text, sendable)
        with (folder / "refused.csv").open(encoding="utf-8", newline="") as text:
            part.rejects.append(text, refused)
        part.rows += rows
        part.reasons.update(reasons)
        log.info("filter: two processes, cut after line %d", self.cut.lines)
        return True

    def close(self) -> None:
        """End the helper (at once if its work is not wanted) and remove its files."""
        if self._proc.poll() is None and self._done is None:
            self._proc.kill()
        self._proc.wait()
        if not self._conn.closed:
            self._conn.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _take(self) -> None:
        try:
            message = self._conn.recv()
        except (EOFError, OSError):
            self._ended = "the helper stopped"
            return
        kind = message[0]
        if kind == "rows":
            if self._report is not None:
                self._report.advance(message[1])
        elif kind == "done":
            self._done = message[1:]
        elif kind != "joined":
            self._ended = {"moved": "the ledger moved before the helper began",
                           "dirty": "a quoted field runs across the cut"}.get(
                kind, f"the helper failed: {message[-1]}")


class _Relay:
    """The helper's progress, sent to the parent."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def start(self, total: int) -> None:
        pass

    def advance(self, rows: int) -> None:
        self._conn.send(("rows", rows))


def _help(job: Job, conn: Connection) -> None:
    """Judge the rows after the cut into ``job.folder``, reporting on ``conn``."""
    if _identity(os.stat(job.path)) != job.identity:
        conn.send(("failed", "the file changed"))
        return
    engine = make_engine(job.url, connections=1)
    store = Store(engine)
    folder = Path(job.folder)
    sendable, refused = csvio.LazyFile(folder / "sendable.csv"), \
        csvio.LazyFile(folder / "refused.csv")
    sendable.write(""), refused.write("")
    task = job.task
    try:
        with open(job.path, "rb") as source, \
                Lookups(store, job.workspace_id, join=job.token) as lookups, \
                collector_paused():
            try:
                lookups.token()
            except ViewMoved as exc:
                conn.send(("moved", str(exc)))
                return
            conn.send(("joined",))
            header = [""] * task.width
            part = Part(task, csvio.RowsWriter(sendable, header, heading=False),
                        csvio.RejectsWriter(refused, header, heading=False), _Relay(conn))
            head = csvio.ChunkReader(source)
            try:
                part.remember(head.chunks(task.chunk, until=job.cut.lines))
                line = head.line
            finally:
                head.close()
            if line != job.cut.lines:
                conn.send(("dirty",))
                return
            tail = csvio.ChunkReader(source, job.cut.offset)
            try:
                part.judge(tail.chunks(task.chunk), lookups)
            finally:
                tail.close()
                part.close()
    finally:
        sendable.close()
        refused.close()
        engine.dispose()
    conn.send(("done", part.rows, part.out.count, part.rejects.count, dict(part.reasons)))


def main() -> None:
    job: Job = pickle.load(sys.stdin.buffer)
    conn = Connection(job.fd, readable=False)
    try:
        _help(job, conn)
    except BaseException:  # told to the parent, which then judges the rows itself
        conn.send(("failed", traceback.format_exc()))
    finally:
        conn.close()


if __name__ == "__main__":
    main()
