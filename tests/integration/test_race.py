"""STOPs, STARTs and sends for the same contacts from several processes at once, on each backend:
no send gets through after a committed opt-out (storage/database.py holds the invariant)."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from smsconsent import services
from smsconsent.services import Store
from smsconsent.services.base import find_number, load_workspace
from smsconsent.storage import ledger as ledger_store
from tests.integration.racing import (
    WORKSPACE,
    Plan,
    event_tag,
    interleavings,
    ledger_events,
    out_of_real_time_order,
    race,
    walk,
)

OURS = "+15557654321"
CONTACTS = ("+15551230001", "+15551230002", "+15551230003")
WORKERS, SECONDS = 4, 3.0


@pytest.mark.slow
def test_no_send_after_committed_stop_under_a_race(db_url: str, store: Store) -> None:
    """Racing processes never get a send past a committed STOP; the ledger verifies and agrees."""
    services.create_workspace(store, WORKSPACE, business_name="Acme", contact="help@acme.test")
    services.add_number(store, WORKSPACE, OURS, campaign="C1")
    start_at = time.time() + 2.0  # past the spawned interpreters' start-up
    shots = race([Plan(db_url, w, OURS, CONTACTS, start_at, SECONDS, seed=w)
                  for w in range(WORKERS)], timeout=120)

    with store.read() as conn:
        ws = load_workspace(conn, WORKSPACE)
        number = find_number(conn, OURS)
    assert number is not None
    events = ledger_events(store, ws.id)
    seq_of = {tag: ev.seq for ev in events if (tag := event_tag(ev)) is not None}
    writes = [s for s in shots if s.op != "verify"]

    # A real race: every worker fired, the state changed back and forth, workers interleaved.
    assert {s.tag.split("-")[0] for s in shots} == {f"w{w}" for w in range(WORKERS)}
    seen = Counter((s.op, s.result) for s in shots)
    assert min(seen[("stop", "opted_out")], seen[("start", "opted_in")],
               seen[("send", "allowed")], seen[("send", "opted_out")]) >= 3, seen
    assert interleavings(events) >= 10

    # What each worker was told is what the ledger holds, once, in real-time order.
    assert sorted(seq_of) == sorted(s.tag for s in writes)
    by_seq = {ev.seq: ev for ev in events}
    for shot in (s for s in writes if s.op == "send"):
        assert by_seq[seq_of[shot.tag]].type == (
            "send_allowed" if shot.result == "allowed" else "send_refused")
    assert out_of_real_time_order(shots, seq_of) == []

    # The invariant, by the gate's own rules; the chain; the stored states.
    wrong, states = walk(events, ws.policy, number.campaign)
    assert wrong == []
    assert all(s.result == "ok" for s in shots if s.op == "verify")
    assert services.verify(store, WORKSPACE)["ok"]
    with store.read() as conn:
        for phone, state in states.items():
            stored = ledger_store.stored_state(conn, ws.id, phone)
            assert stored is not None and stored.to_dict() == state.to_dict()
