"""A filter's stored states, fetched by a second thread a chunk at a time (``Lookups``), in
one read transaction that a helper process can share (``storage.views``)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Dialect

from smsconsent.services.base import Store
from smsconsent.storage.database import CACHE_KIB
from smsconsent.storage.views import shared_reading

LOOKUP_CACHE_KIB = 8192  # SQLite's page cache for a filter's lookups (not the default 64 MiB)


class Lookups:
    """Stored states fetched by a second thread while this one reads, judges and writes.

    The thread holds one read transaction for the whole file, so every row is judged against
    the same view of the ledger; SQLite and psycopg release the GIL while they search, so the
    lookups cost this thread almost nothing. ``ask`` queues a chunk's numbers, ``answer``
    returns the states of the oldest chunk asked for. With ``share`` (or ``join``) the
    transaction is one another process can share (``storage.views``): ``token`` names it.
    """

    def __init__(self, store: Store, workspace_id: int, *, share: bool = False,
                 join: str | None = None) -> None:
        self._store, self._workspace_id = store, workspace_id
        self._share, self._join = share or join is not None, join
        self._asked: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[dict[str, str] | BaseException] = queue.SimpleQueue()
        self._token: queue.SimpleQueue[str | BaseException] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="filter-lookups", daemon=True)

    def __enter__(self) -> Lookups:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._asked.put(None)
        self._thread.join()

    def token(self) -> str:
        """The shared view's token, once the transaction is open (raises what opening it
        raised, ``ViewMoved`` among others)."""
        got = self._token.get()
        self._token.put(got)
        if isinstance(got, BaseException):
            raise got
        return got

    def ask(self, phones: list[str]) -> None:
        self._asked.put(phones)

    def answer(self) -> dict[str, str]:
        found = self._answers.get()
        if isinstance(found, BaseException):
            raise found
        return found

    def _serve(self) -> None:
        try:
            with self._reading() as conn:
                cursor = conn.connection.cursor()
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:  # the lookups are random: the OS's cache serves them as well
                    cursor.execute(f"PRAGMA cache_size=-{LOOKUP_CACHE_KIB}")
                try:
                    while (phones := self._asked.get()) is not None:
                        self._answers.put(_stored(cursor, conn.dialect, self._workspace_id,
                                                  phones))
                finally:
                    if sqlite:
                        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._token.put(exc)
            self._answers.put(exc)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if not self._share:
            with self._store.read() as conn:
                yield conn
            return
        with shared_reading(self._store.engine, self._workspace_id, self._join) as (conn, token):
            self._token.put(token)
            yield conn


_US, _RS = "\x1f", "\x1e"  # unit and record separators
_STATES = {
    # One statement and one parameter for a chunk's numbers, however many: a padded ``IN``
    # list of a few thousand placeholders was bound, and waited for the GIL, 13 times a chunk.
    "sqlite": "SELECT group_concat(phone || char(31) || state, char(30)) FROM contacts "
              "WHERE workspace_id = ? AND phone IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT string_agg(phone || chr(31) || state, chr(30)) FROM contacts "
                  "WHERE workspace_id = %s AND phone = ANY(%s)",
}


def _stored(cursor: Any, dialect: Dialect, workspace_id: int, phones: list[str]
            ) -> dict[str, str]:
    """The stored state texts of those of ``phones`` that have one.

    One statement on the DB-API cursor for the whole chunk (SQLite reads the numbers from one
    JSON text, PostgreSQL from one array). The rows come back as one string (``phone US state
    RS phone US state ...``): SQLite hands the GIL back and forth at every row it steps, which
    starves the reading thread; one aggregate row is one step, and one statement a chunk is
    one wait for the GIL, however long the reading thread's C calls hold it. Neither
    separator can occur inside: numbers are digits, and JSON escapes every control character.
    """
    if not phones:
        return {}
    sqlite = dialect.name == "sqlite"
    cursor.execute(_STATES[dialect.name], (workspace_id, json.dumps(phones) if sqlite else phones))
    (joined,) = cursor.fetchone()
    if not joined:
        return {}
    fields = iter(joined.replace(_US, _RS).split(_RS))
    return dict(zip(fields, fields, strict=True))
