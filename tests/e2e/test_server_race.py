"""Two ``smsconsent serve`` instances on one database, plus processes calling the library, race
STOPs, STARTs and sends for the same contacts: no send gets past a committed opt-out, whichever
instance (or process) took the STOP and whichever took the send."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from smsconsent import services
from smsconsent.services import Store, apikeys
from tests.e2e.conftest import Server
from tests.integration.racing import WORKSPACE, Plan, assert_race_held, race

OURS = "+15557654322"
CONTACTS = ("+15551240001", "+15551240002", "+15551240003")
HTTP_WORKERS, LIBRARY_WORKERS, SECONDS = 4, 2, 3.0


@pytest.mark.slow
def test_no_send_after_committed_stop_across_two_servers(
        db_url: str, store: Store, start_server: Callable[..., Server]) -> None:
    """HTTP workers on two servers and library workers never get a send past a committed STOP;
    the ledger verifies and every stored state is the fold of its events."""
    services.create_workspace(store, WORKSPACE, business_name="Acme", contact="help@acme.test")
    services.add_number(store, WORKSPACE, OURS, campaign="C1")
    key = apikeys.create_api_key(store, WORKSPACE, "manager")["key"]
    servers = [start_server(db_url, "--no-outbox-worker") for _ in range(2)]
    start_at = time.time() + 2.0  # past the spawned interpreters' start-up
    plans = [Plan(db_url, w, OURS, CONTACTS, start_at, SECONDS, seed=w, client="http",
                  url=servers[w % 2].url, key=key) for w in range(HTTP_WORKERS)]
    plans += [Plan(db_url, w, OURS, CONTACTS, start_at, SECONDS, seed=w)
              for w in range(HTTP_WORKERS, HTTP_WORKERS + LIBRARY_WORKERS)]
    shots = race(plans, timeout=120)
    assert_race_held(store, OURS, shots, HTTP_WORKERS + LIBRARY_WORKERS)
