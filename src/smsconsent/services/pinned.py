"""Read transactions on one connection kept open for the HTTP service's event loop.

Every check and inbound text starts with a few indexed reads that take no lock, run on the
event loop itself (web/auth.py says why). Through a pool, each read paid SQLAlchemy's
checkout, begin, commit and check-in: nine tenths of a point read. ``PinnedStore`` holds one
connection for its whole life and begins and ends each read transaction on the driver:

* SQLite: ``BEGIN DEFERRED`` ... ``COMMIT`` (WAL: a snapshot that never waits for the writer);
* PostgreSQL: the connection in autocommit, ``BEGIN ISOLATION LEVEL REPEATABLE READ READ
  ONLY`` ... ``COMMIT``, the same isolation as ``storage.database.reading``.

On PostgreSQL each statement is a round trip, so a read's ``COMMIT`` is put off: it goes
with the next read's ``BEGIN`` as one ``COMMIT; BEGIN ...`` (one round trip, not two), or, if
no read begins first, on the event loop's next turn (``call_soon``: after the requests already
waiting there). A read transaction changes nothing, so nothing waits for that ``COMMIT``, and
each read still begins a transaction of its own, on a snapshot taken after everything
committed before it. Outside a running event loop the ``COMMIT`` is sent at once.

A read inside a read joins it (one snapshot: a webhook's secrets, number, workspace and
lists are read together). A statement run through SQLAlchemy inside a read works too (its
own begin is skipped on SQLite, ``storage/database.py``, and ended here).

After a lost connection (a PostgreSQL restart, an administrator ending the backend) the
``BEGIN`` fails: the connection is dropped and the read begins once more on a new one, so the
next request is answered, not failed. Only for the thread running the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from smsconsent.services.base import Clock, Store, utc_now
from smsconsent.storage.database import is_sqlite
from smsconsent.storage.prepared import Prepared

_SQLITE_BEGIN = "BEGIN DEFERRED"
_PG_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_PG_COMMIT_BEGIN = f"COMMIT; {_PG_BEGIN}"


class PinnedStore(Store):
    """A ``Store`` whose reads run on one connection held open (see the module's docstring)."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        super().__init__(engine, clock)
        self._conn: Connection | None = None
        self._reading = False
        self._open = False  # a finished read whose COMMIT is put off (PostgreSQL)
        self._scheduled = False  # _commit_put_off is waiting on the event loop

    @contextmanager
    def read(self) -> Iterator[Connection]:
        if self._reading:  # a read within a read: the same transaction
            assert self._conn is not None
            yield self._conn
            return
        conn = self._begin()
        self._reading = True
        try:
            yield conn
        except BaseException:
            self._end(conn, "ROLLBACK")
            raise
        else:
            self._finish(conn)
        finally:
            self._reading = False

    def alone(self, statement: Prepared, **params: Any) -> list[Any]:
        """The rows of ``statement`` run as a transaction of its own: no ``BEGIN`` nor
        ``COMMIT`` (PostgreSQL in autocommit, SQLite outside ``BEGIN``). A single statement
        reads one snapshot, taken when it starts, as a read transaction does: what committed
        before it is seen, nothing after. On PostgreSQL that is one round trip, where a read
        costs three at best (``COMMIT; BEGIN``, the statement, the put-off ``COMMIT``), so the
        hot requests read everything they need in one statement (services/hot_reads.py).

        Inside a read it joins that read. A read whose ``COMMIT`` was put off is ended first,
        so its older snapshot is never used. After a lost connection it runs once more on a
        new one, as ``read`` begins again."""
        if self._reading:
            assert self._conn is not None
            return statement.all(self._conn, **params)
        with contextlib.suppress(Exception):  # a failed COMMIT dropped the connection
            self._commit_put_off()
        try:
            return statement.all(self._connection(), **params)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            self._drop()
            return statement.all(self._connection(), **params)

    def close(self) -> None:
        """Give the connection back (before the engine is disposed)."""
        self._commit_put_off()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            if not is_sqlite(conn):
                conn.connection.driver_connection.autocommit = True  # type: ignore[union-attr]
            self._conn = conn
        return self._conn

    def _begin(self) -> Connection:
        conn = self._connection()
        begin = _SQLITE_BEGIN if is_sqlite(conn) else _PG_COMMIT_BEGIN if self._open \
            else _PG_BEGIN
        self._open = False
        try:
            self._execute(conn, begin)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            self._drop()  # the connection is gone: once more on a new one
            conn = self._connection()
            self._execute(conn, _SQLITE_BEGIN if is_sqlite(conn) else _PG_BEGIN)
        return conn

    def _finish(self, conn: Connection) -> None:
        """End a read that went well: at once, or on PostgreSQL put off (module docstring)."""
        if is_sqlite(conn) or conn.in_transaction():
            self._end(conn, "COMMIT")
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread: nothing to put it off to
            self._end(conn, "COMMIT")
            return
        self._open = True
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._on_loop_turn)

    def _on_loop_turn(self) -> None:
        self._scheduled = False
        # A COMMIT that fails has dropped the connection: the next read takes a new one, and
        # a read-only transaction lost nothing.
        with contextlib.suppress(Exception):
            self._commit_put_off()

    def _commit_put_off(self) -> None:
        if self._open and not self._reading and self._conn is not None:
            self._open = False
            self._end(self._conn, "COMMIT")

    def _end(self, conn: Connection, statement: str) -> None:
        try:
            if conn.in_transaction():  # SQLAlchemy began one inside the read: end it too
                conn.rollback() if statement == "ROLLBACK" else conn.commit()
            if _in_transaction(conn):
                self._execute(conn, statement)
        except Exception:
            self._drop()
            if statement != "ROLLBACK":
                raise

    def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.invalidate()
            conn.close()

    @staticmethod
    def _execute(conn: Connection, statement: str) -> None:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()


def _in_transaction(conn: Connection) -> bool:
    driver: Any = conn.connection.driver_connection
    if is_sqlite(conn):
        return bool(driver.in_transaction)
    return bool(driver.info.transaction_status != 0)  # psycopg: 0 is IDLE
