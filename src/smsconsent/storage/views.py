"""One view of a workspace's contacts, shared by two processes reading at once.

``filter`` judges a large file in two processes; both halves must be judged against the same
ledger, or a contact could pass in one half and be refused in the other for a change that
arrived in between. The first process opens its read transaction and gets a *token*; the
second opens its own with the token:

- PostgreSQL: the token is ``pg_export_snapshot()``, and ``SET TRANSACTION SNAPSHOT`` gives
  the second transaction that very snapshot (while the first is still open).
- SQLite has no way to hand a snapshot over from Python. Every change to a contact is a ledger
  event, and every event moves the workspace's ``head_seq``; so two read transactions that see
  the same ``head_seq`` see the same contacts of that workspace. The token is that number, and
  a second transaction that sees another raises ``ViewMoved`` (the caller does without it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from smsconsent.storage.database import READ_ISOLATION, is_sqlite

_HEAD = text("SELECT head_seq FROM workspaces WHERE id = :ws")
_PG_SNAPSHOT = re.compile(r"[0-9A-Fa-f]+-[0-9A-Fa-f]+(-[0-9A-Fa-f]+)?")


class ViewMoved(Exception):
    """The ledger changed between the first transaction and the second: no shared view."""


@contextmanager
def shared_reading(engine: Engine, workspace_id: int, token: str | None = None
                   ) -> Iterator[tuple[Connection, str]]:
    """A read-only transaction and the token that opens the same view elsewhere; with
    ``token``, the view that token names (``ViewMoved`` when SQLite cannot give it)."""
    with engine.connect() as raw:
        if is_sqlite(raw):
            conn = raw.execution_options(readonly=True)
            with conn.begin():
                head = f"head:{conn.execute(_HEAD, {'ws': workspace_id}).scalar_one()}"
                if token is not None and token != head:
                    raise ViewMoved(f"the ledger moved from {token} to {head}")
                yield conn, head
            return
        conn = raw.execution_options(isolation_level=READ_ISOLATION, postgresql_readonly=True)
        with conn.begin():
            if token is None:
                token = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
            elif _PG_SNAPSHOT.fullmatch(token):
                conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{token}'")
            else:
                raise ValueError(f"not a snapshot id: {token!r}")
            yield conn, token
