"""Point statements compiled once and run on the DB-API cursor (``Prepared``)."""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from smsconsent.storage.database import is_sqlite


class Prepared:
    """A Core statement compiled once per dialect and run on the DB-API cursor.

    For the point queries of every request (an API key, a number, a contact's state, the
    ledger's head): SQLAlchemy's statement building, cache-key generation and result processing
    cost several times the query itself there. Fit only for statements whose values need no
    type processing (strings, integers, None): rows come back as the driver gives them.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {}

    def _sql(self, conn: Connection) -> tuple[str, Callable[[dict[str, Any]], Any]]:
        """The SQL for ``conn``'s dialect, and what makes its parameters of a dict by bind
        name: a tuple in bind order for a positional dialect, the dict itself otherwise."""
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = self.statement.compile(dialect=conn.dialect)
            assert isinstance(compiled, SQLCompiler)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = self._compiled[name] = (compiled.string, _binder(order))
        return found

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Execute with ``params`` (by bind name); returns the DB-API cursor."""
        return self._execute(conn.connection.cursor(), conn, params)

    def _execute(self, cursor: Any, conn: Connection, params: dict[str, Any]) -> Any:
        sql, bind = self._sql(conn)
        cursor.execute(sql, bind(params))
        return cursor

    def run_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Execute once per parameter set of ``rows`` (one DB-API ``executemany``)."""
        sql, bind = self._sql(conn)
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(sql, [bind(row) for row in rows])
        finally:
            cursor.close()

    def first(self, conn: Connection, **params: Any) -> Any:
        """The first row (a tuple), or None."""
        cursor = _reader(conn)
        try:
            return self._execute(cursor, conn, params).fetchone()
        finally:
            if is_sqlite(conn):
                cursor.close()

    def all(self, conn: Connection, **params: Any) -> list[Any]:
        cursor = _reader(conn)
        try:
            rows: list[Any] = self._execute(cursor, conn, params).fetchall()
            return rows
        finally:
            if is_sqlite(conn):
                cursor.close()


def _binder(order: tuple[str, ...] | None) -> Callable[[dict[str, Any]], Any]:
    """Parameters by bind name to what the driver takes: the values in ``order`` (as a
    tuple, by ``itemgetter``: every point query builds one), or the dict (``None``)."""
    if order is None:
        return _as_given
    if len(order) == 1:  # itemgetter of one name gives the value, not a tuple
        (only,) = order
        return lambda params: (params[only],)
    return itemgetter(*order) if order else _no_params


def _as_given(params: dict[str, Any]) -> dict[str, Any]:
    return params


def _no_params(_params: dict[str, Any]) -> tuple[()]:
    return ()


def _reader(conn: Connection) -> Any:
    """A cursor for a point read: on PostgreSQL the DB-API connection's kept one (making one
    cost a third of a point read; the driver fetches all rows at once), on SQLite a new one,
    closed after (one left unfinished would keep its snapshot)."""
    if is_sqlite(conn):
        return conn.connection.cursor()
    info = conn.connection.info  # cleared by the pool when the connection is replaced
    if _KEPT_CURSOR not in info:
        info[_KEPT_CURSOR] = conn.connection.cursor()
    return info[_KEPT_CURSOR]


_KEPT_CURSOR = "smsconsent_cursor"
