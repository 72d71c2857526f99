"""The ledger's one-statement close on PostgreSQL (storage/pg_close.py) writes exactly the rows
the statement-by-statement path writes: events, contact states and the chain head; and so
does one close for several ledgers resumed one after the other in one transaction (the group
commit's way)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select, update

from smsconsent import services
from smsconsent.domain.events import CONTACT, Event, EventType
from smsconsent.services import Store
from smsconsent.services.base import load_workspace
from smsconsent.storage import tables as t
from smsconsent.storage.chain import GENESIS
from smsconsent.storage.database import ensure_schema, make_engine, writing
from smsconsent.storage.ledger import Ledger
from tests.conftest import drop_pg_schema, new_pg_schema

pytestmark = pytest.mark.postgres
OURS = "+15557654324"
PHONES = ("+15551230001", "+15551230002", "+15551230003")
NAMES = itertools.count()


@pytest.fixture(scope="module")
def pg_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated PostgreSQL schema for the whole module."""
    base = request.getfixturevalue("pg_server")
    schema, url = new_pg_schema(base)
    engine = make_engine(url)
    ensure_schema(engine)
    yield engine
    engine.dispose()
    drop_pg_schema(base, schema)


def _event(kind: str, phone: str, minute: int, n: int, body: str) -> Event:
    at = f"2026-11-23T10:{minute:02d}:00.000000Z"
    if kind == "stop":
        return Event(EventType.OPTED_OUT, at, CONTACT, phone, data={
            "keys": [f"number:{OURS}"], "method": "inbound_sms_keyword", "number": OURS})
    if kind == "start":
        return Event(EventType.OPTED_IN, at, CONTACT, phone, data={
            "keys": [f"number:{OURS}"], "type": "express", "number": OURS})
    if kind == "block":
        return Event(EventType.BLOCKED, at, "alice", phone, data={"reason": "abuse"})
    return Event(EventType.INBOUND_RECEIVED, at, CONTACT, phone,
                 data={"body": body, "n": n}, provider_id=f"SM{n}{body[:3]}")


# Any text PostgreSQL can hold (no NUL, no lone surrogates): JSON escapes must round-trip.
bodies = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 max_size=12)
events = st.lists(st.tuples(st.sampled_from(("stop", "start", "block", "text")),
                            st.sampled_from(PHONES), st.integers(0, 59), bodies), max_size=6)


def _write(engine: Engine, workspace_id: int, batched: bool,
           transactions: list[list[tuple[str, str, int, str]]]) -> None:
    n = 0
    for number, records in enumerate(transactions):
        with writing(engine) as conn:
            ledger = Ledger.open(conn, workspace_id, lambda i=number: f"2026-11-23T11:0{i}:00Z")
            ledger._batched = batched
            for kind, phone, minute, body in records:
                n += 1
                ledger.record(_event(kind, phone, minute, n, body))
            ledger.close()


def _write_resumed(engine: Engine, workspace_id: int,
                   transactions: list[list[tuple[str, str, int, str]]]) -> None:
    """The same ledgers in one transaction, each resumed from the one before unclosed, and
    one close at the end."""
    n = 0
    with writing(engine) as conn:
        ledger: Ledger | None = None
        for number, records in enumerate(transactions):
            def now(i: int = number) -> str:
                return f"2026-11-23T11:0{i}:00Z"
            ledger = Ledger.open(conn, workspace_id, now) if ledger is None \
                else Ledger.resume(ledger, now)
            for kind, phone, minute, body in records:
                n += 1
                ledger.record(_event(kind, phone, minute, n, body))
        assert ledger is not None
        ledger.close()


def _rows(engine: Engine, workspace_id: int) -> tuple[Any, ...]:
    with engine.connect() as conn:
        ev = conn.execute(select(*[c for c in t.events.c if c.name != "workspace_id"])
                          .where(t.events.c.workspace_id == workspace_id)
                          .order_by(t.events.c.seq)).all()
        contacts = conn.execute(select(*[c for c in t.contacts.c if c.name != "workspace_id"])
                                .where(t.contacts.c.workspace_id == workspace_id)
                                .order_by(t.contacts.c.phone)).all()
        head = conn.execute(select(t.workspaces.c.head_seq, t.workspaces.c.head_hash)
                            .where(t.workspaces.c.id == workspace_id)).one()
    return ev, contacts, tuple(head)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transactions=st.lists(events, min_size=1, max_size=3))
def test_one_statement_close_writes_the_rows_of_the_general_path(
        pg_engine: Engine, transactions: list[list[tuple[str, str, int, str]]]) -> None:
    """Events (late ones included, which refold a contact mid-transaction), new and changed
    contacts (each row's ``updated_at`` that of the ledger that last moved it) and the head:
    byte for byte the same whichever way a ledger is closed, or several closed as one."""
    store = Store(pg_engine)
    found = []
    for _ in range(3):
        name = f"ws{next(NAMES)}"
        services.create_workspace(store, name, business_name="Acme", contact="help@a.test")
        with store.read() as conn:
            found.append(load_workspace(conn, name).id)
    general, batched, resumed = found
    with writing(pg_engine) as conn:  # both chains begin at the genesis: equal hashes after
        conn.execute(delete(t.events).where(t.events.c.workspace_id.in_(found)))
        conn.execute(update(t.workspaces).where(t.workspaces.c.id.in_(found))
                     .values(head_seq=0, head_hash=GENESIS))
    _write(pg_engine, general, False, transactions)
    _write(pg_engine, batched, True, transactions)
    _write_resumed(pg_engine, resumed, transactions)
    assert _rows(pg_engine, batched) == _rows(pg_engine, general)
    assert _rows(pg_engine, resumed) == _rows(pg_engine, general)
