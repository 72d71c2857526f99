"""The outbox: replies owed through a provider's API, kept until the provider takes them.

A row is written in the same transaction as the ledger change that owes it, so a reply is
never owed without its cause nor lost with it. Workers claim due rows by pushing their
``next_attempt_at`` forward by a lease, inside a short write transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite's single writer lock): two workers never hold the same row.
Sending happens outside the transaction, so a worker that dies between the provider's answer
and ``mark_delivered`` leaves the row to be sent again once its lease ends; that is the one
case of a second send, and it needs a crash at that instant.

The outbox is not part of the hash chain, so it takes no workspace lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from smsconsent.storage import tables as t
from smsconsent.storage.database import is_sqlite, reading, writing


@dataclass(frozen=True)
class OutboxItem:
    workspace_id: int
    workspace: str
    id: str
    provider: str
    from_number: str
    to_number: str
    body: str
    attempts: int


def enqueue(conn: Connection, workspace_id: int, provider: str, from_number: str,
            to_number: str, body: str, now: str) -> str:
    """Owe a reply; call inside the transaction that records why it is owed."""
    item_id = uuid.uuid4().hex
    conn.execute(insert(t.outbox).values(
        workspace_id=workspace_id, id=item_id, provider=provider, from_number=from_number,
        to_number=to_number, body=body, created_at=now, attempts=0, next_attempt_at=now))
    return item_id


def claim(engine: Engine, now: str, lease_until: str, limit: int = 20) -> list[OutboxItem]:
    """Take up to ``limit`` due rows for this worker until ``lease_until``."""
    with writing(engine) as conn:
        query = (
            select(t.outbox, t.workspaces.c.name)
            .join(t.workspaces, t.workspaces.c.id == t.outbox.c.workspace_id)
            .where(t.outbox.c.delivered_at.is_(None), t.outbox.c.next_attempt_at <= now)
            .order_by(t.outbox.c.next_attempt_at)
            .limit(limit)
        )
        if not is_sqlite(conn):
            query = query.with_for_update(skip_locked=True, of=t.outbox)
        rows = conn.execute(query).all()
        for row in rows:
            conn.execute(update(t.outbox).where(
                t.outbox.c.workspace_id == row.workspace_id, t.outbox.c.id == row.id
            ).values(next_attempt_at=lease_until))
    return [OutboxItem(r.workspace_id, r.name, r.id, r.provider, r.from_number, r.to_number,
                       r.body, r.attempts) for r in rows]


def mark_delivered(engine: Engine, item: OutboxItem, now: str) -> None:
    with writing(engine) as conn:
        conn.execute(update(t.outbox).where(
            t.outbox.c.workspace_id == item.workspace_id, t.outbox.c.id == item.id,
            t.outbox.c.delivered_at.is_(None),
        ).values(delivered_at=now, attempts=item.attempts + 1, last_error=None))


def mark_failed(engine: Engine, item: OutboxItem, error: str, retry_at: str) -> None:
    with writing(engine) as conn:
        conn.execute(update(t.outbox).where(
            t.outbox.c.workspace_id == item.workspace_id, t.outbox.c.id == item.id,
            t.outbox.c.delivered_at.is_(None),
        ).values(attempts=item.attempts + 1, last_error=error[:2000], next_attempt_at=retry_at))


def rows(engine: Engine, workspace_id: int) -> list[dict[str, Any]]:
    """Every outbox row of a workspace, oldest first (for tests and operators)."""
    with reading(engine) as conn:
        found = conn.execute(select(t.outbox).where(t.outbox.c.workspace_id == workspace_id)
                             .order_by(t.outbox.c.created_at, t.outbox.c.id)).all()
    return [dict(r._mapping) for r in found]


def pending_count(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(t.outbox).where(
            t.outbox.c.delivered_at.is_(None))).scalar_one())
