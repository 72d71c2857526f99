"""Reading the ledger: events with their previous hash, a contact's events and state, pages of
history. Apart from the write path (ledger.py), which uses a few of them.

The previous hash is not stored beside each event (it is the hash of the event before,
``seq - 1``): ``chained`` joins it back, so every event read still carries it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, func, literal_column, select

from smsconsent.domain.consent import ContactState
from smsconsent.domain.events import RecordedEvent
from smsconsent.storage import tables as t
from smsconsent.storage.chain import GENESIS
from smsconsent.storage.prepared import Prepared
from smsconsent.storage.rows import stored_contact


def chained(*where: Any) -> Select[Any]:
    """The events matching ``where``, each with its ``prev_hash``: the hash of the event
    before it in the chain (``GENESIS`` for the first), joined from its ``seq - 1``."""
    before = t.events.alias("before")  # constants inline: Prepared binds only named values
    genesis = func.coalesce(before.c.hash, literal_column(f"'{GENESIS}'"))
    return select(t.events, genesis.label("prev_hash")) \
        .select_from(t.events.outerjoin(before, and_(
            before.c.workspace_id == t.events.c.workspace_id,
            before.c.seq == t.events.c.seq - literal_column("1")))).where(*where)


def previous_hash(conn: Connection, workspace_id: int, seq: int) -> str:
    """The ``prev_hash`` of event ``seq``: the hash of the event before (``GENESIS`` for
    none)."""
    row = _HASH.first(conn, ws=workspace_id, seq=seq - 1)
    return GENESIS if row is None else str(row[0])


def recorded_event(row: Any) -> RecordedEvent:
    """An event read through ``chained``."""
    return RecordedEvent(
        seq=row.seq, type=row.type, occurred_at=row.occurred_at, recorded_at=row.recorded_at,
        actor=row.actor, contact=row.contact, data=json.loads(row.data),
        provider_id=row.provider_id, prev_hash=row.prev_hash, hash=row.hash,
    )


_HASH = Prepared(select(t.events.c.hash).where(
    t.events.c.workspace_id == bindparam("ws"), t.events.c.seq == bindparam("seq")))


def fold(phone: str, events: Iterator[RecordedEvent] | list[RecordedEvent]) -> ContactState:
    """Rebuild a contact's state from its events, in the order they happened."""
    state = ContactState(phone)
    for ev in sorted(events, key=lambda e: (e.occurred_at, e.seq)):
        state.apply(ev.type, ev.occurred_at, ev.actor, ev.data)
    return state


def contact_events(conn: Connection, workspace_id: int, phone: str) -> list[RecordedEvent]:
    rows = conn.execute(
        chained(t.events.c.workspace_id == workspace_id, t.events.c.contact == phone)
        .order_by(t.events.c.seq)
    )
    return [recorded_event(r) for r in rows]


def events_page(conn: Connection, workspace_id: int, *, contact: str | None = None,
                after: int = 0, limit: int = 100, since: str | None = None
                ) -> list[RecordedEvent]:
    cond = [t.events.c.workspace_id == workspace_id, t.events.c.seq > after]
    if contact is not None:
        cond.append(t.events.c.contact == contact)
    if since is not None:
        cond.append(t.events.c.recorded_at >= since)
    rows = conn.execute(chained(*cond).order_by(t.events.c.seq).limit(limit))
    return [recorded_event(r) for r in rows]


_STATE = Prepared(select(t.contacts.c.state).where(
    t.contacts.c.workspace_id == bindparam("ws"), t.contacts.c.phone == bindparam("phone")))


def stored_text(conn: Connection, workspace_id: int, phone: str) -> str | None:
    """The contact's stored state JSON (None: no row)."""
    row = _STATE.first(conn, ws=workspace_id, phone=phone)
    return None if row is None else str(row[0])


def stored_state(conn: Connection, workspace_id: int, phone: str) -> ContactState | None:
    text = stored_text(conn, workspace_id, phone)
    return None if text is None else stored_contact(phone, text)
