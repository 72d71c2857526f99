"""Contact rows and the bulk statements beside the ledger: how a state is stored, written in
many rows at once, and read back as stored text for many phones in one query.

Statements here go to the DB-API cursor directly: for thousands of rows SQLAlchemy's per-row
parameter processing cost more than the inserts (BENCHMARKS.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, insert, update
from sqlalchemy.dialects import sqlite

from smsconsent.domain.consent import ContactState
from smsconsent.storage import tables as t
from smsconsent.storage.contact_row import state_row
from smsconsent.storage.database import is_sqlite
from smsconsent.storage.prepared import Prepared

LOOKUP_CHUNK = 10_000  # phones per state query (one import batch)


_UPDATE_STATE = Prepared(
    update(t.contacts)
    .where(t.contacts.c.workspace_id == bindparam("ws"), t.contacts.c.phone == bindparam("p"))
    .values(status=bindparam("status"), blocked=bindparam("blocked"),
            lists=bindparam("lists"), state=bindparam("state"),
            updated_at=bindparam("updated_at"))
)


def save_states(conn: Connection, workspace_id: int, states: Sequence[ContactState],
                stored: set[str], now: str) -> None:
    """Store many states: one ``executemany`` of updates (rows known to exist), one of inserts.

    ``stored`` holds the phones whose row exists; a phone not in it is inserted.
    """
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for state in states:
        row = state_row(workspace_id, state, now)
        if state.phone in stored:
            row["ws"], row["p"] = row.pop("workspace_id"), row.pop("phone")
            updates.append(row)
        else:
            inserts.append(row)
    if updates:
        _UPDATE_STATE.run_many(conn, updates)
    insert_many(conn, t.contacts, inserts)


_INSERTS: dict[tuple[str, str, tuple[str, ...], bool], tuple[str, tuple[str, ...] | None]] = {}


def insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``INSERT`` many rows given as dicts (see ``insert_rows``)."""
    if rows:
        columns = tuple(rows[0])
        insert_rows(conn, table, columns, [tuple(row[c] for c in columns) for row in rows])


class AlreadyStored(Exception):
    """A row ``insert_rows(..., new_only=True)`` was to add is there already: what was
    written is incomplete, and the caller rolls its transaction back (``recorded_at``: the
    time that transaction recorded, for a caller that writes it again)."""

    recorded_at: str | None = None


def insert_rows(conn: Connection, table: Table, columns: tuple[str, ...],
                rows: list[tuple[Any, ...]], *, new_only: bool = False) -> None:
    """``INSERT`` many rows (tuples in the order of ``columns``) with one DB-API
    ``executemany``, the statement compiled once per dialect: SQLAlchemy's per-row parameter
    processing is most of the cost of a bulk insert, and these rows hold only strings,
    integers, booleans and None, which need none.

    ``new_only`` (SQLite): a row whose key is taken is left out, and ``AlreadyStored`` raised
    after the rest are in: a bulk import that did not look its numbers up first finds out
    so, at the cost of one insert, instead of paying a lookup for every run.
    """
    if not rows:
        return
    key = (conn.dialect.name, table.name, columns, new_only)
    if key not in _INSERTS:
        statement = insert(table)
        if new_only:
            assert is_sqlite(conn), "new_only counts rows as SQLite's driver sums them"
            statement = sqlite.insert(table).on_conflict_do_nothing()
        compiled = statement.values({c: bindparam(c) for c in columns}).compile(
            dialect=conn.dialect)
        positions = compiled.positiontup if compiled.positional else None
        _INSERTS[key] = (compiled.string, tuple(positions) if positions is not None else None)
    sql, order = _INSERTS[key]
    if order is None:
        done = conn.exec_driver_sql(sql, [dict(zip(columns, row, strict=True)) for row in rows])
    elif order == columns:
        done = conn.exec_driver_sql(sql, rows)
    else:
        where = [columns.index(c) for c in order]
        done = conn.exec_driver_sql(sql, [tuple(row[i] for i in where) for row in rows])
    if new_only and done.rowcount != len(rows):  # sqlite3 sums an executemany's rows
        raise AlreadyStored(f"{len(rows) - done.rowcount} of the rows were stored already")


_STORED_STATES = {
    # One statement for any number of phones, bound as one JSON text or array: an ``IN`` list
    # would be compiled, and bound, once per chunk of a few thousand.
    "sqlite": "SELECT phone, state FROM contacts WHERE workspace_id = ? "
              "AND phone IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT phone, state FROM contacts WHERE workspace_id = %s "
                  "AND phone = ANY(%s)",
}


def stored_texts(conn: Connection, workspace_id: int, phones: Sequence[str]
                 ) -> Iterator[tuple[str, str]]:
    """The stored state JSON of those of ``phones`` that have one, ``LOOKUP_CHUNK`` at a
    time."""
    sql = _STORED_STATES[conn.dialect.name]
    for start in range(0, len(phones), LOOKUP_CHUNK):
        chunk = list(phones[start:start + LOOKUP_CHUNK])
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:  # plain tuples, fetched at once: SQLAlchemy's rows cost more than the query
            cursor.execute(sql, (workspace_id, json.dumps(chunk) if is_sqlite(conn) else chunk))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        yield from rows


def stored_contact(phone: str, text: str | None) -> ContactState:
    """The state stored as ``text`` in ``phone``'s row; a new, empty one when there is no row
    (None)."""
    return ContactState(phone) if text is None else ContactState.from_dict(load_stored(text),
                                                                           phone)


def load_stored(text: str) -> Any:
    """A stored JSON text, read by orjson (three times faster than json), or by json where
    orjson refuses (a lone surrogate escape, NaN): the data is always what ``json.loads``
    reads, for the filter's verdicts and the re-import's shortcut alike."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
