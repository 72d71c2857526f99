"""A ledger's writes on PostgreSQL in one statement: its new events, its contacts' states and
the workspace's new chain head (``Ledger.close``).

Each statement is a round trip to the server, and on PostgreSQL a round trip costs more of
both processes' CPU than the work: an inbound STOP wrote three events, one contact and the
head in five. Here they go as one statement of data-modifying CTEs over arrays (``unnest``),
so any number of events and contacts is the same statement text, prepared by the server once
per connection (psycopg's ``prepare_threshold``). The rows are those the statement-by-statement
path writes (``ledger.EVENT_COLUMNS`` in the same order, ``rows.state_row``), and the statement
is all or nothing, as the transaction around it is. SQLite keeps its statements: there a
statement is a function call, not a round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from smsconsent.domain.consent import ContactState
from smsconsent.storage.rows import state_row

_EVENTS = ("seq", "type", "contact", "occurred_at", "recorded_at", "actor", "provider_id",
           "data", "hash")
_STATES = ("phone", "status", "blocked", "lists", "state")
_TYPES = {"seq": "bigint", "blocked": "boolean"}  # every other column is text


def _unnest(prefix: str, names: tuple[str, ...]) -> str:
    arrays = ", ".join(f"%({prefix}{n})s::{_TYPES.get(n, 'text')}[]" for n in names)
    return f"unnest({arrays}) AS v({', '.join(names)})"


CLOSE_SQL = (
    "WITH new_events AS ("
    f"INSERT INTO events (workspace_id, {', '.join(_EVENTS)}) "
    f"SELECT %(ws)s::integer, v.* FROM {_unnest('e_', _EVENTS)}), "
    "changed AS ("
    "UPDATE contacts AS c SET status = v.status, blocked = v.blocked, lists = v.lists, "
    "state = v.state, updated_at = %(now)s "
    f"FROM {_unnest('u_', _STATES)} "
    "WHERE c.workspace_id = %(ws)s::integer AND c.phone = v.phone), "
    "added AS ("
    "INSERT INTO contacts (workspace_id, phone, status, blocked, lists, state, updated_at) "
    f"SELECT %(ws)s::integer, v.*, %(now)s FROM {_unnest('i_', _STATES)}) "
    "UPDATE workspaces SET head_seq = %(head_seq)s, head_hash = %(head_hash)s "
    "WHERE id = %(ws)s::integer"
)


def close_ledger(conn: Connection, workspace_id: int, events: Sequence[tuple[Any, ...]],
                 states: Sequence[ContactState], stored: set[str], now: str, head_seq: int,
                 head_hash: str) -> None:
    """Write ``events`` (rows in ``ledger.EVENT_COLUMNS`` order), ``states`` (updated where
    the phone is in ``stored``, inserted otherwise) and the head, in one statement."""
    params: dict[str, Any] = {"ws": workspace_id, "now": now, "head_seq": head_seq,
                              "head_hash": head_hash}
    for i, name in enumerate(_EVENTS, start=1):  # column 0 is the workspace, bound once
        params[f"e_{name}"] = [row[i] for row in events]
    rows = [state_row(workspace_id, state, now) for state in states]
    for prefix, wanted in (("u_", True), ("i_", False)):
        chosen = [row for row in rows if (row["phone"] in stored) is wanted]
        for name in _STATES:
            params[f"{prefix}{name}"] = [row[name] for row in chosen]
    cursor = conn.connection.cursor()
    try:
        cursor.execute(CLOSE_SQL, params)
    finally:
        cursor.close()
