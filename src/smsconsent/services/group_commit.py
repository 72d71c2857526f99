"""The group commit: the HTTP service's write transactions, committed several at a time."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection

from smsconsent.services.base import Store, number_and_workspace
from smsconsent.storage.database import drop_writer, held_writer, is_sqlite, writing
from smsconsent.storage.ledger import Ledger

T = TypeVar("T")


@dataclass
class _Job:
    workspace_id: int
    body: Callable[[Ledger], Any]
    future: Future[Any] | asyncio.Future[Any]
    reads: tuple[str | None, str] | None = None  # for Ledger.prefetch
    number: str | None = None  # our number the text came to (Ledger.prefetch)


class GroupCommit:
    """Write transactions handed over by the HTTP service, committed several at a time.

    A commit on SQLite is one fsync'd write under the database's single writer lock, so
    concurrent inbound texts queue for it one by one; here the texts that arrive while one
    transaction commits share the next. Each runs with its own ``Ledger.open``/``close`` (the
    chain goes on from the previous one's head), or on PostgreSQL with ``Ledger.resume`` after
    the text before it of the same workspace, unclosed: the texts of a workspace are then
    written by one ``close``, one statement (storage/pg_close.py), where each text's own cost a
    round trip and the statement's fixed work. A text that fails is answered with its error and
    nothing of it touches the others: the transaction is rolled back and the others run again,
    from the start, in a new one. Failures are rare, so that costs less than a SAVEPOINT around
    every text did (a round trip each on PostgreSQL); a body only reads and records, and nothing
    of it is seen outside until the commit, so running it again is running it once. Every future
    is resolved only after the COMMIT holding it has returned, so a 200 still means durably
    committed; a failed COMMIT fails the whole group, none of which is then stored. If that one
    ``close`` fails (no text is known to be the cause), the group runs again with a ``close``
    per text, which tells. Bodies run in workspace-id order (arrival order within a workspace),
    so a group takes its workspaces' row locks in ascending order and two groups never wait on
    each other in a cycle (PostgreSQL; storage/database.py).

    One thread per process does the writing; it also holds the in-process writer queue of
    ``storage.database.writing`` like any other writer. It keeps one connection for its life:
    through the pool, each group paid a checkout and, on PostgreSQL, the liveness ping (a
    round trip). A connection found lost when a group fails (a server restart, an ended
    backend) is dropped, and the group runs once more on a new one, unless its COMMIT had
    been sent: whether that committed is not known, so the group fails as before.
    """

    def __init__(self, store: Store, max_group: int = 64) -> None:
        self.store, self.max_group = store, max_group
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None  # the writer thread's own
        self._driver: Any = None
        self._committing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish what was handed over, then end the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, workspace_id: int, body: Callable[[Ledger], T], *,
               reads: tuple[str | None, str] | None = None, number: str | None = None
               ) -> Future[T]:
        """Run ``body`` on the workspace's ledger in the next group; the future holds its
        result (or error) once that group has committed. ``body`` runs again if another
        text of its group fails, so it must read and write only through the ledger's
        transaction (as ``record_inbound`` does). ``reads``: the provider id (or None) and
        contact it reads first, read for the whole group at once (``Ledger.prefetch``);
        ``number``: our number it came to, read with them, under the lock, and held for the
        body as ``services.base.addressed`` gives it (``ledger.held[number]``)."""
        future: Future[T] = Future()
        self._put(_Job(workspace_id, body, future, reads, number))
        return future

    async def run(self, workspace_id: int, body: Callable[[Ledger], T], *,
                  reads: tuple[str | None, str] | None = None, number: str | None = None
                  ) -> T:
        """``submit``, awaited on the running event loop: the same group, the same commit
        before the result. The results of a group go back to each loop in one call (one
        wake-up of the loop, not one per text, and no thread-safe future per text)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(_Job(workspace_id, body, future, reads, number))
        return await future

    def _put(self, job: _Job) -> None:
        if self._thread is None:
            raise RuntimeError("the group commit is not running")
        self._jobs.put(job)

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            if self._conn is not None:
                drop_writer(self._conn)
                self._conn = None

    def _serve(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.max_group:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)  # stop after this group
                    break
                group.append(job)
            self._commit(sorted(group, key=lambda j: j.workspace_id))

    def _commit(self, group: list[_Job]) -> None:
        """Commit ``group``; a text whose body fails is left out and the others run again."""
        failed: list[tuple[_Job, BaseException]] = []
        together = True  # one close per workspace (PostgreSQL)
        while True:
            try:
                outcomes = self._transaction(group, together)
            except _BodyFailed as body:
                failed.append((body.job, body.error))
                group = [job for job in group if job is not body.job]
                continue
            except _CloseFailed:
                together = False
                continue
            except BaseException as exc:  # BEGIN, a statement outside the bodies, or COMMIT
                _settle([(job, None, exc) for job in group]
                        + [(job, None, error) for job, error in failed])
                if not isinstance(exc, Exception):
                    raise
                return
            break
        _settle([(job, value, None) for job, value in outcomes]
                + [(job, None, error) for job, error in failed])

    def _transaction(self, group: list[_Job], together: bool) -> list[tuple[_Job, Any]]:
        """``_once``, and once more on a new connection if the one held was lost before the
        COMMIT was sent (see the class's docstring)."""
        try:
            return self._once(group, together)
        except BaseException:
            if self._committing or not self._dropped_if_lost():
                raise
        return self._once(group, together)

    def _dropped_if_lost(self) -> bool:
        """Whether the connection held was lost (then it is given up)."""
        if self._conn is None or not bool(getattr(self._driver, "broken", False)):
            return False  # (SQLite's have no such attribute: never lost this way)
        conn, self._conn = self._conn, None
        with contextlib.suppress(Exception):
            drop_writer(conn)
        return True

    def _once(self, group: list[_Job], together: bool) -> list[tuple[_Job, Any]]:
        """Run every body of ``group`` in one transaction and commit it; the first body that
        fails rolls the whole transaction back (``_BodyFailed``). ``together``: on
        PostgreSQL, one ``close`` for the texts of a workspace (``_CloseFailed`` if it
        fails)."""
        outcomes: list[tuple[_Job, Any]] = []
        self._committing = False
        if not group:
            return outcomes
        if self._conn is None:
            self._conn = held_writer(self.store.engine)
        # The driver's connection as the group began: SQLAlchemy may put a new one in its
        # place once it finds this one lost.
        self._driver = self._conn.connection.driver_connection
        with writing(self.store.engine, self._conn) as conn:
            together = together and not is_sqlite(conn)
            last: Ledger | None = None
            for n, job in enumerate(group):
                same = last is not None and last.workspace_id == job.workspace_id
                if together and last is not None and not same:
                    _close(last)
                try:
                    # The ledger of the text before, of the same workspace, is resumed
                    # (Ledger.resume: the head is not read again).
                    if same and last:
                        ledger = Ledger.resume(last, self.store.now)
                    else:
                        ledger = Ledger.open(conn, job.workspace_id, self.store.now)
                        _prefetch(ledger, [other for other in group[n:]
                                           if other.workspace_id == job.workspace_id])
                    value = job.body(ledger)
                    if not together:  # the head by the workspace's last text (SQLite)
                        ledger.close(head=n + 1 == len(group)
                                     or group[n + 1].workspace_id != job.workspace_id)
                except Exception as exc:
                    raise _BodyFailed(job, exc) from exc
                outcomes.append((job, value))
                last = ledger
            if together and last is not None:
                _close(last)
            self._committing = True
        return outcomes


_Settled = tuple[_Job, Any, BaseException | None]  # a job, its value, or its error


def _settle(settled: Sequence[_Settled]) -> None:
    """Hand each job its value or error: thread-safe futures at once, event-loop futures in
    one call per loop (``_resolve``)."""
    loops: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
    for job, value, error in settled:
        future = job.future
        if isinstance(future, Future):
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
        else:
            loops.setdefault(future.get_loop(), []).append((job, value, error))
    for loop, jobs in loops.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve, jobs)


def _resolve(settled: list[_Settled]) -> None:
    for job, value, error in settled:
        future = job.future
        if future.done():  # its request was cancelled: the text is committed all the same
            continue
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)


def _prefetch(ledger: Ledger, jobs: list[_Job]) -> None:
    """The reads of a workspace's texts in a group, at once (``Ledger.prefetch``): our
    numbers among them are held as ``addressed`` gives them (``record_inbound`` looks there
    first)."""
    rows = ledger.prefetch((job.reads for job in jobs if job.reads),
                           (job.number for job in jobs if job.number))
    for number, row in rows.items():
        ledger.held[number] = number_and_workspace(row)


def _close(ledger: Ledger) -> None:
    """Close the last ledger of a workspace's texts, written together (``_CloseFailed``)."""
    try:
        ledger.close()
    except Exception as exc:
        raise _CloseFailed from exc


class _CloseFailed(Exception):
    """The one ``close`` of several texts failed: which text caused it is not known."""


class _BodyFailed(Exception):
    """A body of the group raised ``error``: its transaction is rolled back."""

    def __init__(self, job: _Job, error: Exception) -> None:
        super().__init__(job, error)
        self.job, self.error = job, error
