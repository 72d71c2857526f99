"""The audit check: recompute a workspace's hash chain and refold every contact's state.

Apart from the ledger's write path because it reads everything and changes nothing: it is
what proves that the ledger (storage/ledger.py) kept its two invariants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from smsconsent.domain.events import RecordedEvent
from smsconsent.storage import tables as t
from smsconsent.storage.chain import GENESIS, event_hash
from smsconsent.storage.history import chained, fold, recorded_event, stored_state


@dataclass
class Verification:
    ok: bool
    events: int
    contacts: int
    head_hash: str
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "contacts": self.contacts,
                "head_hash": self.head_hash, "problems": self.problems}


def verify(conn: Connection, workspace_id: int, max_problems: int = 50) -> Verification:
    """Recompute the hash chain and refold every contact; list every disagreement found."""
    problems: list[str] = []
    prev, count = GENESIS, 0
    rows = conn.execute(
        select(t.events).where(t.events.c.workspace_id == workspace_id).order_by(t.events.c.seq)
    )
    for row in rows:
        count += 1
        if row.seq != count:
            problems.append(f"event {row.seq}: expected sequence number {count} (gap or reorder)")
        # The previous hash is the chain's, not a stored copy: an event changed and re-hashed
        # breaks the next event's hash.
        digest = event_hash(prev, row.seq, row.type, row.contact, row.occurred_at,
                            row.recorded_at, row.actor, row.provider_id, row.data)
        if digest != row.hash:
            problems.append(f"event {row.seq}: contents do not match its hash (altered)")
        prev = row.hash
        if len(problems) >= max_problems:
            break
    head = conn.execute(
        select(t.workspaces.c.head_seq, t.workspaces.c.head_hash).where(
            t.workspaces.c.id == workspace_id
        )
    ).one()
    if not problems and (head.head_seq != count or head.head_hash != prev):
        problems.append("the chain head does not match the last event (events removed?)")
    contacts = 0
    current: str | None = None
    batch: list[RecordedEvent] = []

    def check(phone: str, evs: list[RecordedEvent]) -> None:
        stored = stored_state(conn, workspace_id, phone)
        rebuilt = fold(phone, evs)
        if stored is None or stored.to_dict() != rebuilt.to_dict():
            problems.append(f"contact {phone}: stored state differs from the ledger")

    ordered = conn.execute(
        chained(t.events.c.workspace_id == workspace_id, t.events.c.contact.is_not(None))
        .order_by(t.events.c.contact, t.events.c.seq)
    )
    for row in ordered:
        if row.contact != current:
            if current is not None:
                check(current, batch)
                contacts += 1
            current, batch = row.contact, []
        batch.append(recorded_event(row))
    if current is not None:
        check(current, batch)
        contacts += 1
    orphans = conn.execute(
        select(func.count()).select_from(t.contacts).where(
            t.contacts.c.workspace_id == workspace_id,
            ~t.contacts.c.phone.in_(
                select(t.events.c.contact).where(t.events.c.workspace_id == workspace_id,
                                                 t.events.c.contact.is_not(None))
            ),
        )
    ).scalar_one()
    if orphans:
        problems.append(f"{orphans} contact states have no events behind them")
    return Verification(not problems, count, contacts, prev, problems[:max_problems])
