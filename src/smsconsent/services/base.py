"""What every use case shares: loading workspaces and numbers, the write transaction, the clock."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import NoResultFound

from smsconsent.domain.clock import format_ts
from smsconsent.domain.phones import normalize_phone, normalize_sender
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.replies import Templates
from smsconsent.domain.workspace import Number, Workspace
from smsconsent.errors import BadInput, NotFound
from smsconsent.storage import tables as t
from smsconsent.storage.database import reading, writing
from smsconsent.storage.ledger import Ledger
from smsconsent.storage.prepared import Prepared

Clock = Callable[[], datetime]
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Store:
    """The composition of storage and clock every use case runs against."""

    engine: Engine
    clock: Clock = field(default=utc_now)

    def now(self) -> str:
        return format_ts(self.clock())

    @contextmanager
    def write(self, workspace_id: int) -> Iterator[Ledger]:
        """One write transaction on a workspace's ledger: locked, chained, committed together."""
        with writing(self.engine) as conn:
            ledger = Ledger.open(conn, workspace_id, self.now)
            yield ledger
            ledger.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with reading(self.engine) as conn:
            yield conn


WORKSPACE_COLUMNS = (t.workspaces.c.id, t.workspaces.c.name, t.workspaces.c.business_name,
                     t.workspaces.c.contact, t.workspaces.c.region, t.workspaces.c.policy,
                     t.workspaces.c.templates)


@dataclass
class _Job:
    workspace_id: int
    body: Callable[[Ledger], Any]
    future: Future[Any]


class GroupCommit:
    """Write transactions handed over by the HTTP service, committed several at a time.

    A commit on SQLite is one fsync'd write under the database's single writer lock, so
    concurrent inbound texts queue for it one by one; here the texts that arrive while one
    transaction commits share the next. Each runs with its own ``Ledger.open``/``close`` (the
    chain goes on from the previous one's head). A text that fails is answered with its error
    and nothing of it touches the others: the transaction is rolled back and the others run
    again, from the start, in a new one. Failures are rare, so that costs less than a
    SAVEPOINT around every text did (a round trip each on PostgreSQL); a body only reads and
    records, and nothing of it is seen outside until the commit, so running it again is
    running it once. Every future is resolved only after the COMMIT holding it has returned,
    so a 200 still means durably committed; a failed COMMIT fails the whole group, none of
    which is then stored. Bodies run in workspace-id order (arrival order within a
    workspace), so a group takes its workspaces' row locks in ascending order and two groups
    never wait on each other in a cycle (PostgreSQL; storage/database.py).

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

    def submit(self, workspace_id: int, body: Callable[[Ledger], T]) -> Future[T]:
        """Run ``body`` on the workspace's ledger in the next group; the future holds its
        result (or error) once that group has committed. ``body`` runs again if another
        text of its group fails, so it must read and write only through the ledger's
        transaction (as ``record_inbound`` does)."""
        if self._thread is None:
            raise RuntimeError("the group commit is not running")
        future: Future[T] = Future()
        self._jobs.put(_Job(workspace_id, body, future))
        return future

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            if self._conn is not None:
                self._conn.close()
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
        while True:
            try:
                outcomes = self._transaction(group)
            except _BodyFailed as body:
                failed.append((body.job, body.error))
                group = [job for job in group if job is not body.job]
                continue
            except BaseException as exc:  # BEGIN, a statement outside the bodies, or COMMIT
                for job in group:
                    job.future.set_exception(exc)
                for job, error in failed:
                    job.future.set_exception(error)
                if not isinstance(exc, Exception):
                    raise
                return
            break
        for job, value in outcomes:
            job.future.set_result(value)
        for job, error in failed:
            job.future.set_exception(error)

    def _transaction(self, group: list[_Job]) -> list[tuple[_Job, Any]]:
        """``_once``, and once more on a new connection if the one held was lost before the
        COMMIT was sent (see the class's docstring)."""
        try:
            return self._once(group)
        except BaseException:
            if self._committing or not self._dropped_if_lost():
                raise
        return self._once(group)

    def _dropped_if_lost(self) -> bool:
        """Whether the connection held was lost (then it is given up)."""
        if self._conn is None or not bool(getattr(self._driver, "broken", False)):
            return False  # (SQLite's have no such attribute: never lost this way)
        conn, self._conn = self._conn, None
        with contextlib.suppress(Exception):
            conn.invalidate()
            conn.close()
        return True

    def _once(self, group: list[_Job]) -> list[tuple[_Job, Any]]:
        """Run every body of ``group`` in one transaction and commit it; the first body that
        fails rolls the whole transaction back (``_BodyFailed``)."""
        outcomes: list[tuple[_Job, Any]] = []
        self._committing = False
        if not group:
            return outcomes
        if self._conn is None:
            self._conn = self.store.engine.connect()
        # The driver's connection as the group began: SQLAlchemy may put a new one in its
        # place once it finds this one lost.
        self._driver = self._conn.connection.driver_connection
        with writing(self.store.engine, self._conn) as conn:
            last: Ledger | None = None
            for job in group:
                try:
                    # The ledger a text closed is resumed by the next text of the same
                    # workspace (Ledger.resume: the head is not read again).
                    ledger = Ledger.resume(last, self.store.now) \
                        if last is not None and last.workspace_id == job.workspace_id \
                        else Ledger.open(conn, job.workspace_id, self.store.now)
                    value = job.body(ledger)
                    ledger.close()
                except Exception as exc:
                    raise _BodyFailed(job, exc) from exc
                outcomes.append((job, value))
                last = ledger
            self._committing = True
        return outcomes


class _BodyFailed(Exception):
    """A body of the group raised ``error``: its transaction is rolled back."""

    def __init__(self, job: _Job, error: Exception) -> None:
        super().__init__(job, error)
        self.job, self.error = job, error


def workspace_from_row(row: Any) -> Workspace:
    return parsed_workspace(row.id, row.name, row.business_name, row.contact, row.region,
                            row.policy, row.templates)


@lru_cache(maxsize=1024)
def parsed_workspace(id_: int, name: str, business_name: str, contact: str, region: str,
                     policy: str, templates: str) -> Workspace:
    """The workspace of these stored values, parsed once: it is read on every request and
    changes rarely. Keyed by the values themselves, so a changed policy is a new entry at once,
    in every process; and the same policy object each time lets the classifier find its
    compiled form by identity."""
    return Workspace(
        id=id_,
        name=name,
        business_name=business_name,
        contact=contact,
        region=region,
        policy=WorkspacePolicy.from_dict(json.loads(policy)),
        templates=Templates.from_dict(json.loads(templates)),
    )


_NUMBER_WORKSPACE = Prepared(
    select(t.numbers.c.number, t.numbers.c.workspace_id, t.numbers.c.kind, t.numbers.c.campaign,
           *WORKSPACE_COLUMNS)
    .join(t.workspaces, t.workspaces.c.id == t.numbers.c.workspace_id)
    .where(t.numbers.c.number == bindparam("number"))
)


def addressed(conn: Connection, number: str, workspace: str | None
              ) -> tuple[Number, Workspace] | None:
    """Our number and its workspace in one query (``our_number`` + ``load_workspace_by_id``,
    the hot path of every check and inbound); None for a number of no workspace.

    Anything but a plain hit goes the general way, which says exactly why it is refused.
    """
    row = _NUMBER_WORKSPACE.first(conn, number=number)
    if row is not None and (workspace is None or row[5] == workspace):
        return Number(row[0], row[1], row[2], row[3]), parsed_workspace(*row[4:])
    found = our_number(conn, number, workspace)
    return None if found is None else (found, load_workspace_by_id(conn, found.workspace_id))


_WORKSPACE_BY_NAME = Prepared(select(*WORKSPACE_COLUMNS)
                              .where(t.workspaces.c.name == bindparam("name")))
_WORKSPACE_BY_ID = Prepared(select(*WORKSPACE_COLUMNS)
                            .where(t.workspaces.c.id == bindparam("id")))
_NUMBER = Prepared(select(t.numbers.c.number, t.numbers.c.workspace_id, t.numbers.c.kind,
                          t.numbers.c.campaign).where(t.numbers.c.number == bindparam("number")))


def load_workspace(conn: Connection, name: str) -> Workspace:
    row = _WORKSPACE_BY_NAME.first(conn, name=name)
    if row is None:
        raise NotFound(f"no workspace named {name!r}", code="unknown_workspace")
    return parsed_workspace(*row)


def load_workspace_by_id(conn: Connection, workspace_id: int) -> Workspace:
    row = _WORKSPACE_BY_ID.first(conn, id=workspace_id)
    if row is None:  # ids come from rows just read: a broken invariant, not a caller's error
        raise NoResultFound(f"no workspace with id {workspace_id}")
    return parsed_workspace(*row)


def find_number(conn: Connection, number: str) -> Number | None:
    row = _NUMBER.first(conn, number=number)
    return None if row is None else Number(*row)


def our_number(conn: Connection, number: str, workspace: str | None) -> Number | None:
    """Our number, as seen by a caller limited to ``workspace`` (an API key, a webhook URL).

    Scoped, a number of another workspace is answered exactly like an unknown one, so a key
    never learns what another workspace holds.
    """
    found = find_number(conn, number)
    if workspace is None:
        return found
    ws = load_workspace(conn, workspace)
    if found is None or found.workspace_id != ws.id:
        raise NotFound(f"{number} is not a number of workspace {ws.name!r}",
                       code="unknown_number")
    return found


@lru_cache(maxsize=65536)
def parse_sender(text: str) -> str:
    """A number of ours, as given on the command line or in a request.

    Remembered (libphonenumber costs ~50 µs a number; the same few senders and a working set
    of contacts come back on every request); an invalid number raises and is not remembered.
    """
    if text.strip().startswith("+"):
        return normalize_phone(text)
    return normalize_sender(text, "US")


@lru_cache(maxsize=65536)
def parse_contact(text: str, region: str) -> str:
    return normalize_phone(text, region)


def require_text(value: str | None, what: str, limit: int = 2000) -> str:
    """Evidence, names and other free text: present, printable, and of a sane size."""
    if value is None or not str(value).strip():
        raise BadInput(f"{what} is required")
    check_text(value, what, limit)
    return value.strip()


_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def check_text(value: str, what: str, limit: int) -> None:
    if len(value) > limit:
        raise BadInput(f"{what} is {len(value)} characters; at most {limit}", code="too_large")
    if _BINARY.search(value):
        raise BadInput(f"{what} holds binary or control characters", code="bad_text")
