"""The ledger is tamper-evident: verify finds altered, removed and reordered history."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from smsconsent import services
from smsconsent.services import Store
from smsconsent.storage import tables as t
from smsconsent.storage.database import SCHEMA_HEAD, head_revision
from tests.integration.helpers import ALICE, OURS, workspace


def _history(store: Store) -> None:
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP", provider_id="SM1")
    services.handle_inbound(store, ALICE, OURS, "START", provider_id="SM2")
    services.send(store, OURS, ALICE, "hello")


def test_untouched_ledger_verifies(store: Store) -> None:
    """A ledger nobody touched verifies: chain intact and states equal to the fold."""
    _history(store)
    result = services.verify(store, "default")
    assert result["ok"] and result["problems"] == [] and result["contacts"] == 1


def test_altered_event_is_found(store: Store) -> None:
    """Changing one stored event's body breaks its hash."""
    _history(store)
    with store.engine.begin() as conn:
        conn.execute(update(t.events).where(t.events.c.provider_id == "SM1")
                     .values(data='{"body":"hello"}'))
    result = services.verify(store, "default")
    assert not result["ok"]
    assert any("altered" in p for p in result["problems"])


def test_removed_last_event_is_found(store: Store) -> None:
    """Deleting the newest event leaves the chain head pointing at nothing."""
    _history(store)
    with store.engine.begin() as conn:
        last = conn.execute(select(t.events.c.seq).order_by(t.events.c.seq.desc())).first()
        assert last is not None
        conn.execute(delete(t.events).where(t.events.c.seq == last.seq))
    assert not services.verify(store, "default")["ok"]


def test_edited_state_is_found(store: Store) -> None:
    """A contact state edited behind the ledger's back no longer equals the fold."""
    _history(store)
    with store.engine.begin() as conn:
        row = conn.execute(select(t.contacts.c.state)).one()
        conn.execute(update(t.contacts).values(
            state=row.state.replace('"opted_in"', '"opted_out"')))
    result = services.verify(store, "default")
    assert not result["ok"]
    assert any("differs" in p for p in result["problems"])


def test_schema_head_constant_matches_alembic() -> None:
    """The head revision the app checks at start-up is Alembic's real head."""
    assert head_revision() == SCHEMA_HEAD


def test_altered_and_rehashed_event_breaks_the_next_hash(store: Store) -> None:
    """With no previous hash stored beside each event, an event altered *and* given a new
    hash of its own is still found: the next event's hash covers the old one."""
    from smsconsent.storage.chain import GENESIS, event_hash

    _history(store)
    with store.engine.begin() as conn:
        rows = conn.execute(select(t.events).order_by(t.events.c.seq)).all()
        target = next(r for r in rows if r.provider_id == "SM1")
        prev = GENESIS if target.seq == 1 else rows[target.seq - 2].hash
        data = target.data.replace("STOP", "HELLO")
        assert data != target.data
        forged = event_hash(prev, target.seq, target.type, target.contact, target.occurred_at,
                            target.recorded_at, target.actor, target.provider_id, data)
        conn.execute(update(t.events).where(t.events.c.seq == target.seq)
                     .values(data=data, hash=forged))
    result = services.verify(store, "default")
    assert not result["ok"]
    assert f"event {target.seq + 1}: contents do not match its hash (altered)" \
        in result["problems"]


def test_removed_middle_event_is_found(store: Store) -> None:
    """Deleting an event inside the chain leaves a gap in the sequence numbers and breaks the
    hash of the event after it."""
    _history(store)
    with store.engine.begin() as conn:
        conn.execute(delete(t.events).where(t.events.c.provider_id == "SM1"))
    problems = services.verify(store, "default")["problems"]
    assert any("gap or reorder" in p for p in problems)
    assert any("altered" in p for p in problems)


def test_swapped_events_are_found(store: Store) -> None:
    """Two events exchanged (each keeping its hash, their numbers swapped) break the chain."""
    _history(store)
    with store.engine.begin() as conn:
        a, b = conn.execute(select(t.events.c.seq).where(t.events.c.contact.is_not(None))
                            .order_by(t.events.c.seq).limit(2)).scalars().all()
        conn.execute(update(t.events).where(t.events.c.seq == a).values(seq=-1))
        conn.execute(update(t.events).where(t.events.c.seq == b).values(seq=a))
        conn.execute(update(t.events).where(t.events.c.seq == -1).values(seq=b))
    problems = services.verify(store, "default")["problems"]
    assert any("altered" in p for p in problems)


def test_exported_prev_hash_is_the_chain(store: Store) -> None:
    """The ledger export, whole and from a ``since`` that skips events, gives each event the
    hash of the event before it as ``prev_hash`` (not stored: joined from the chain), and the
    REST/CLI history pages give the same."""
    import json

    from smsconsent.storage.chain import GENESIS

    _history(store)
    whole = [json.loads(line) for line in services.export_ledger(store, "default")]
    assert [e["prev_hash"] for e in whole] == [GENESIS] + [e["hash"] for e in whole[:-1]]
    later = [json.loads(line)
             for line in services.export_ledger(store, "default", since=whole[3]["recorded_at"])]
    assert later == [e for e in whole if e["recorded_at"] >= whole[3]["recorded_at"]]
    page = services.history(store, "default", ALICE)["events"]
    by_seq = {e["seq"]: e for e in whole}
    assert page and all(e["prev_hash"] == by_seq[e["seq"]]["prev_hash"] for e in page)
