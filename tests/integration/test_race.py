"""STOPs, STARTs and sends for the same contacts from several processes at once, on each backend:
no send gets through after a committed opt-out (storage/database.py holds the invariant)."""

from __future__ import annotations

import time

import pytest

from smsconsent import services
from smsconsent.services import Store
from tests.integration.racing import WORKSPACE, Plan, assert_race_held, race

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
    assert_race_held(store, OURS, shots, WORKERS)
