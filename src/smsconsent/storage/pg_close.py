"""A ledger's writes on PostgreSQL in one statement: its new events, its contacts' states and
the workspace's new chain head (``Ledger.close``).

Each statement is a round trip to the server, and on PostgreSQL a round trip costs more of
both processes' CPU than the work: an inbound STOP wrote three events, one contact and the
head in five. Here they go as one statement of data-modifying CTEs over the rows, sent as
JSON texts (``json_to_recordset``), so any number of events and contacts is the same
statement text, prepared by the server once per connection (psycopg's
``prepare_threshold``). The rows are those the statement-by-statement path writes
(``ledger.EVENT_COLUMNS`` in the same order, ``contact_row.state_row``), and the statement is all or
nothing, as the transaction around it is. SQLite keeps its statements: there a statement is
a function call, not a round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection

from smsconsent.domain.consent import ContactState
from smsconsent.storage.contact_row import state_row

_EVENTS = ("seq", "type", "contact", "occurred_at", "recorded_at", "actor", "provider_id",
           "data", "hash")
_STATES = ("phone", "status", "blocked", "lists", "state", "updated_at")
_TYPES = {"seq": "bigint", "blocked": "boolean"}  # every other column is text


def _rows(param: str, names: tuple[str, ...]) -> str:
    columns = ", ".join(f"{n} {_TYPES.get(n, 'text')}" for n in names)
    return f"json_to_recordset(%({param})s::json) AS v({columns})"


# The contacts to update are found through their key, listed again from the JSON rows
# (``= ANY``): joined to ``json_to_recordset`` alone (estimated at 100 rows whatever it
# holds) the planner hashed the rows and scanned every contact of the workspace, once per
# close (0.6 ms at 2,000 contacts; the group's whole close is ~0.2 ms without it).
CLOSE_SQL = (
    "WITH new_events AS ("
    f"INSERT INTO events (workspace_id, {', '.join(_EVENTS)}) "
    f"SELECT %(ws)s::integer, {', '.join(f'v.{n}' for n in _EVENTS)} "
    f"FROM {_rows('events', _EVENTS)}), "
    "changed AS ("
    "UPDATE contacts AS c SET status = v.status, blocked = v.blocked, lists = v.lists, "
    "state = v.state, updated_at = v.updated_at "
    f"FROM {_rows('updates', _STATES)} "
    "WHERE c.workspace_id = %(ws)s::integer AND c.phone = v.phone "
    "AND c.phone = ANY(ARRAY(SELECT json_array_elements(%(updates)s::json) ->> 'phone'))), "
    "added AS ("
    f"INSERT INTO contacts (workspace_id, {', '.join(_STATES)}) "
    f"SELECT %(ws)s::integer, {', '.join(f'v.{n}' for n in _STATES)} "
    f"FROM {_rows('inserts', _STATES)}) "
    "UPDATE workspaces SET head_seq = %(head_seq)s, head_hash = %(head_hash)s "
    "WHERE id = %(ws)s::integer"
)


# Rows tagged by kind: 0 a contact's state, 1 a recorded provider id, 2 one of our numbers
# with its workspace, as ``services.base.addressed`` reads them (number, workspace_id, kind,
# campaign, then the workspace's columns), as one JSON array text.
READS_SQL = (
    "SELECT 0, phone, state FROM contacts WHERE workspace_id = %(ws)s AND phone = ANY(%(phones)s) "
    "UNION ALL SELECT 1, provider_id, NULL FROM events "
    "WHERE workspace_id = %(ws)s AND provider_id = ANY(%(ids)s) "
    "UNION ALL SELECT 2, n.number, json_build_array(n.number, n.workspace_id, n.kind, "
    "n.campaign, w.id, w.name, w.business_name, w.contact, w.region, w.policy, w.templates)::text "
    "FROM numbers AS n JOIN workspaces AS w ON w.id = n.workspace_id "
    "WHERE n.number = ANY(%(numbers)s)"
)


def texts_reads(conn: Connection, workspace_id: int, phones: list[str], provider_ids: list[str],
                numbers: list[str]) -> tuple[dict[str, str], set[str], dict[str, tuple[Any, ...]]]:
    """The stored state texts of those of ``phones`` that have a row, which of
    ``provider_ids`` are recorded, and the rows of those of ``numbers`` that are ours (with
    their workspace's): what the texts of a group commit read first, in one statement
    (``Ledger.prefetch``), where each text's own read cost a round trip."""
    cursor = conn.connection.cursor()
    try:
        rows = cursor.execute(READS_SQL, {"ws": workspace_id, "phones": phones,
                                          "ids": provider_ids, "numbers": numbers}).fetchall()
    finally:
        cursor.close()
    return {key: text for kind, key, text in rows if kind == 0}, \
        {key for kind, key, _ in rows if kind == 1}, \
        {key: tuple(orjson.loads(text)) for kind, key, text in rows if kind == 2}


def close_ledger(conn: Connection, workspace_id: int, events: Sequence[tuple[Any, ...]],
                 states: Sequence[tuple[ContactState, str]], stored: set[str], head_seq: int,
                 head_hash: str) -> None:
    """Write ``events`` (rows in ``ledger.EVENT_COLUMNS`` order), ``states`` (each with its
    row's ``updated_at``; updated where the phone is in ``stored``, inserted otherwise) and
    the head, in one statement.

    The rows go as JSON texts (``json_to_recordset``): one parameter each, where arrays cost
    psycopg more to send than the statement costs the server to run."""
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for state, updated_at in states:
        row = state_row(workspace_id, state, updated_at)
        (updates if state.phone in stored else inserts).append(
            {name: row[name] for name in _STATES})
    params = {"ws": workspace_id, "head_seq": head_seq, "head_hash": head_hash,
              "events": orjson.dumps([dict(zip(_EVENTS, row[1:], strict=True))
                                      for row in events]).decode(),
              "updates": orjson.dumps(updates).decode(),
              "inserts": orjson.dumps(inserts).decode()}
    cursor = conn.connection.cursor()
    try:
        cursor.execute(CLOSE_SQL, params)
    finally:
        cursor.close()
